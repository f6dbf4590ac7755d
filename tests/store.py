"""The store side of tests/it/store.rs, against an S3 server (moto's, started by the test).

    store.py serve PORT               an S3 server on 127.0.0.1:PORT until killed
    store.py put DIR s3://BUCKET/KEY  uploads DIR's files under KEY (makes the bucket)
    store.py runs s3://BUCKET/NIGHT   prints the run ids under NIGHT and the marker's, as JSON
    store.py read s3://BUCKET/NIGHT   reads the published night as a reader does: the marker
                                      first, then each dataset of its run with polars from S3;
                                      prints the rows per dataset as JSON

Credentials and the endpoint come from the environment (AWS_*), as for the tool.
"""

import json
import os
import sys


def client():
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=os.environ["AWS_ENDPOINT_URL"],
        region_name=os.environ["AWS_REGION"],
        aws_access_key_id=os.environ["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=os.environ["AWS_SECRET_ACCESS_KEY"],
    )


def split(url):
    bucket, _, key = url.removeprefix("s3://").partition("/")
    return bucket, key.strip("/")


def main():
    cmd = sys.argv[1]
    if cmd == "serve":
        from moto.server import ThreadedMotoServer

        server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[2]))
        server.start()
        print("ready", flush=True)
        sys.stdin.read()  # until the test closes stdin or kills us
        server.stop()
        return
    s3 = client()
    if cmd == "put":
        folder, (bucket, key) = sys.argv[2], split(sys.argv[3])
        if bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]:
            s3.create_bucket(Bucket=bucket)
        for name in sorted(os.listdir(folder)):
            s3.upload_file(os.path.join(folder, name), bucket, f"{key}/{name}")
        return
    bucket, night = split(sys.argv[2])
    listed = s3.list_objects_v2(Bucket=bucket, Prefix=night + "/").get("Contents", [])
    keys = {o["Key"][len(night) + 1 :]: o["Size"] for o in listed}
    marker = None
    if "_SUCCESS" in keys:
        marker = json.loads(s3.get_object(Bucket=bucket, Key=f"{night}/_SUCCESS")["Body"].read())
    if cmd == "runs":
        runs = sorted({k.split("/")[0][4:] for k in keys if k.startswith("run=")})
        print(json.dumps({"runs": runs, "marker": marker and marker["run_id"]}))
        return
    assert cmd == "read", cmd
    import polars as pl

    assert marker, f"{night}: not published"
    for f in marker["files"]:
        assert keys.get(f["path"]) == f["bytes"], f"{f} is not in the store as listed"
    options = {
        "aws_endpoint_url": os.environ["AWS_ENDPOINT_URL"],
        "aws_region": os.environ["AWS_REGION"],
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
        "aws_allow_http": "true",
    }
    run = f"s3://{bucket}/{night}/run={marker['run_id']}"
    rows = {}
    for name in ["eligibility", "expiring", "audiences", "quarantine", "changes"]:
        df = pl.scan_parquet(
            f"{run}/{name}/**/*.parquet", storage_options=options, hive_partitioning=True
        ).collect()
        rows[name] = df.height
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
