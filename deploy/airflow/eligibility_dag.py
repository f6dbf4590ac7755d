"""The nightly eligibility run as Airflow DAGs: every day at 05:30 Europe/Amsterdam; the
second DAG, `eligibility_sharded`, splits it over workers (at the end of this file).

One task runs

    eligibility run --pipeline PIPELINE --input /data/dms/<day> --out /data/eligibility
                    --as-of <day> --quiet

on the worker (the binary and the folders must be there), and retries it only when waiting
can help. A BashOperator would retry every failure alike (its `skip_on_exit_code` turns a
code into a skip, not into a failure without retry), so the task runs the command itself and
maps the exit code (README, "Exit codes"):

    0             success
    66, 74, 75    input missing (a late export), I/O error or disk full, the output root
                  locked by another run: AirflowException, retried (8 times, every 15 min)
    anything else 64 usage, 65 bad data or the truncation guard, 70 a bug, 73 permissions,
                  78 bad pipeline file; and a kill by a signal: AirflowFailException,
                  failed at once without retry

<day> is the run's logical date in Europe/Amsterdam: with the trigger timetable below it is
the day the run starts, the same as `{{ ds }}` for a 05:30 start (ds is the logical date's
UTC day, and 05:30 in Amsterdam is 03:30 or 04:30 UTC of the same day). A past night:
trigger the DAG with the config {"as_of": "2026-11-22"}.

Written for Airflow 2.4 and later and Airflow 3; checked with `python3 -m py_compile`.
"""

from __future__ import annotations

import logging
import subprocess
from datetime import timedelta

import pendulum

try:  # Airflow 3.1 and later
    from airflow.sdk import CronTriggerTimetable, dag, get_current_context, task
    from airflow.sdk.exceptions import AirflowException, AirflowFailException
except ImportError:  # Airflow 2.4 to 2.11, and 3.0
    from airflow.decorators import dag, task
    from airflow.exceptions import AirflowException, AirflowFailException
    from airflow.operators.python import get_current_context
    from airflow.timetables.trigger import CronTriggerTimetable

TZ = "Europe/Amsterdam"
BINARY = "/usr/local/bin/eligibility"
PIPELINE = "/etc/eligibility/pipeline.toml"
INPUT_ROOT = "/data/dms"  # one folder per night: /data/dms/YYYY-MM-DD/
OUT = "/data/eligibility"  # the output root: <OUT>/as_of=YYYY-MM-DD/

# What the exit codes mean (README, "Exit codes").
RETRYABLE = {
    66: "input missing: no extract folder, or no customers or invoices file (a late export?)",
    74: "I/O error while reading, or the output disk is full",
    75: "another run is writing the same output root (it holds <out>/.lock), a store did not"
    " answer, or (commit) a shard's result is not there yet",
}
FINAL = {
    64: "usage: an unknown option or a malformed --as-of",
    65: "bad data, or the truncation guard (see the message; --accept-shrink TABLE for a real drop)",
    70: "internal error (a bug: please report it)",
    73: "cannot create the output folder or a file in it (permissions, a read-only file system)",
    78: "bad pipeline file or law table",
}

log = logging.getLogger(__name__)


def night(context) -> str:
    """The night to run, YYYY-MM-DD: the `as_of` of the trigger's config, else the logical
    date's day in Europe/Amsterdam, else (a manual run without a logical date, Airflow 3)
    today there."""
    asked = (context.get("params") or {}).get("as_of")
    if asked:
        return str(asked)
    logical = context.get("logical_date")
    when = pendulum.instance(logical) if logical is not None else pendulum.now(TZ)
    return when.in_timezone(TZ).to_date_string()


def run_eligibility(arguments: list[str]) -> None:
    """Runs the binary with `arguments`, its output into the task log; maps its exit code to
    success, a retried failure or a final one."""
    command = [BINARY, *arguments]
    log.info("running %s", " ".join(command))
    try:
        proc = subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
    except OSError as e:  # no binary, not executable: retrying will not help
        raise AirflowFailException(f"cannot start {BINARY}: {e}") from e
    try:
        # the summary (stdout) and any error message (stderr) into the task log
        for line in proc.stdout:
            log.info("%s", line.rstrip())
        code = proc.wait()
    finally:
        # a timeout or a kill of the task ends the run too (the next run clears what it left)
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    if code == 0:
        return
    if code in RETRYABLE:
        raise AirflowException(f"exit {code}: {RETRYABLE[code]}; retried")
    if code < 0:
        raise AirflowFailException(f"killed by signal {-code}; not retried")
    why = FINAL.get(code, "not an exit code of eligibility")
    raise AirflowFailException(f"exit {code}: {why}; not retried")


RETRY = dict(
    retries=8,
    retry_delay=timedelta(minutes=15),
    retry_exponential_backoff=False,
    # a 5M-record night takes about a minute; an hour means it is stuck
    execution_timeout=timedelta(hours=1),
)


@task(**RETRY)
def run_night() -> str:
    day = night(get_current_context())
    run_eligibility([
        "run",
        "--pipeline", PIPELINE,
        "--input", f"{INPUT_ROOT}/{day}",
        "--out", OUT,
        "--as-of", day,
        "--quiet",
    ])
    return f"{OUT}/as_of={day}"


@dag(
    dag_id="eligibility",
    description="Marketing eligibility: the nightly run",
    # 05:30 in Amsterdam, whatever the scheduler's time zone. The trigger timetable makes
    # the logical date the start time (a plain cron string in Airflow 2 would give the
    # start of the previous interval, yesterday 05:30).
    schedule=CronTriggerTimetable("30 5 * * *", timezone=TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=TZ),
    catchup=False,
    # runs on one output root take its lock: one at a time (another would exit 75)
    max_active_runs=1,
    params={"as_of": ""},
    tags=["eligibility"],
    doc_md=__doc__,
)
def eligibility():
    run_night()


eligibility()


# The same night split over SHARDS workers (README, "Sharding"): one mapped task per shard,
# each deciding the dealers of its shard into a shard result, then one task that checks
# them and publishes the night. The shards retry on their own (a retried shard replaces only
# its own result); the commit runs when every shard succeeded. Object storage suits it: no
# worker needs the others' disk (INPUT_ROOT and OUT may be s3://, gs:// or az:// URLs, with
# the credentials in the workers' environment).
SHARDS = 4


@task(**RETRY)
def run_shard(index: int) -> str:
    day = night(get_current_context())
    run_eligibility([
        "run",
        "--pipeline", PIPELINE,
        "--input", f"{INPUT_ROOT}/{day}",
        "--out", OUT,
        "--as-of", day,
        "--shard", f"{index}/{SHARDS}",
        "--quiet",
    ])
    return f"{index}/{SHARDS}"


@task(**RETRY)
def commit_night() -> str:
    day = night(get_current_context())
    run_eligibility([
        "commit",
        "--pipeline", PIPELINE,
        "--out", OUT,
        "--as-of", day,
        "--shards", str(SHARDS),
        "--quiet",
    ])
    return f"{OUT}/as_of={day}"


@dag(
    dag_id="eligibility_sharded",
    description="Marketing eligibility: the nightly run, in shards by dealer",
    schedule=CronTriggerTimetable("30 5 * * *", timezone=TZ),
    start_date=pendulum.datetime(2026, 1, 1, tz=TZ),
    catchup=False,
    max_active_runs=1,
    params={"as_of": ""},
    tags=["eligibility"],
)
def eligibility_sharded():
    run_shard.expand(index=list(range(SHARDS))) >> commit_night()


eligibility_sharded()


# The same on Kubernetes (apache-airflow-providers-cncf-kubernetes), with the image of
# deploy/Dockerfile. It retries on every failure alike; for retries by exit code use the
# CronJob in deploy/kubernetes/cronjob.yaml instead (its pod failure policy), or this DAG.
#
# from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator
# from kubernetes.client import models as k8s
#
# KubernetesPodOperator(
#     task_id="run_night",
#     name="eligibility",
#     image="registry.example/eligibility:0.1.0",
#     arguments=["run", "--pipeline", "/work/pipelines/sample.toml",
#                "--input", "/data/in/{{ ds }}", "--out", "/data/out",
#                "--as-of", "{{ ds }}", "--quiet"],
#     env_vars={"TZ": TZ},
#     security_context=k8s.V1PodSecurityContext(run_as_non_root=True, run_as_user=10001,
#                                               run_as_group=10001, fs_group=10001),
#     container_security_context=k8s.V1SecurityContext(
#         read_only_root_filesystem=True, allow_privilege_escalation=False,
#         capabilities=k8s.V1Capabilities(drop=["ALL"])),
#     volumes=[k8s.V1Volume(name="in", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name="dms-extracts", read_only=True)),
#              k8s.V1Volume(name="out", persistent_volume_claim=k8s.V1PersistentVolumeClaimVolumeSource(claim_name="eligibility-output"))],
#     volume_mounts=[k8s.V1VolumeMount(name="in", mount_path="/data/in", read_only=True),
#                    k8s.V1VolumeMount(name="out", mount_path="/data/out")],
#     container_resources=k8s.V1ResourceRequirements(requests={"cpu": "2", "memory": "4Gi"},
#                                                    limits={"memory": "8Gi"}),
#     retries=8,
#     retry_delay=timedelta(minutes=15),
# )
