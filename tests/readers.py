"""The outputs as analysts' tools read them: DuckDB, polars, pyarrow (14, the oldest the
README promises) and Spark. Run by `tests/it/readers.rs` (cargo test) on an output root of
several published nights; the first night's `changes/` and `unsubscribe/` have no rows.

    python tests/readers.py OUT_ROOT

Checks, for every night and every dataset: each tool reads the folder as it is, with the
manifest's row count and the same columns; then the README's recipes that read all nights
of one table with an `as_of` column, in each tool. Exits non-zero naming what failed.
"""

import glob
import json
import os
import sys
from functools import reduce

import duckdb
import polars as pl
import pyarrow
import pyarrow.dataset as ds

DATASETS = ["eligibility", "expiring", "changes", "audiences", "unsubscribe", "retention", "quarantine"]
# the folder keys of each dataset: not inside the files
KEYS = {"eligibility": 1, "expiring": 1, "changes": 1, "unsubscribe": 1, "audiences": 3}


def fail(msg):
    print(f"readers: {msg}", file=sys.stderr)
    sys.exit(1)


def main(root):
    nights = sorted(os.path.dirname(p) for p in glob.glob(f"{root}/as_of=*/_SUCCESS"))
    if len(nights) < 2:
        fail(f"{root}: want at least two published nights, found {len(nights)}")
    print(f"pyarrow {pyarrow.__version__}, duckdb {duckdb.__version__}, polars {pl.__version__}")
    if int(pyarrow.__version__.split(".")[0]) > 14:
        print("note: pyarrow is newer than 14: the oldest promised reader is not checked here")

    from pyspark.sql import SparkSession, functions as F

    spark = (
        SparkSession.builder.master("local[1]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")

    for night in nights:
        manifest = json.load(open(f"{night}/manifest.json"))
        for name in DATASETS:
            folder = f"{night}/{name}"
            rows = manifest["outputs"][name]["rows"]
            got = {}
            got["duckdb"] = duckdb.sql(
                f"SELECT count(*) FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true)"
            ).fetchall()[0][0]
            got["polars"] = pl.scan_parquet(f"{folder}/", hive_partitioning=True).select(pl.len()).collect().item()
            table = ds.dataset(folder, format="parquet", partitioning="hive").to_table()
            got["pyarrow"] = table.num_rows
            sdf = spark.read.parquet(folder)
            got["spark"] = sdf.count()
            # an empty dataset is one file of no rows under dealer_id=none/ (its keys read as
            # "none"): a table with its columns, no row
            for tool, n in got.items():
                if n != rows:
                    fail(f"{folder}: {tool} reads {n} rows, the manifest says {rows}")
            widths = {
                "pyarrow": len(table.schema),
                "spark": len(sdf.columns),
                "polars": len(pl.scan_parquet(f"{folder}/", hive_partitioning=True).collect_schema()),
                # DuckDB also takes `as_of` from the run folder's name above the dataset
                "duckdb": len(
                    [
                        c
                        for c in duckdb.sql(
                            f"SELECT * FROM read_parquet('{folder}/**/*.parquet', hive_partitioning = true) LIMIT 0"
                        ).columns
                        if c != "as_of"
                    ]
                ),
            }
            if len(set(widths.values())) != 1:
                fail(f"{folder}: the tools read different numbers of columns: {widths}")
            if name in KEYS and "dealer_id" not in sdf.columns:
                fail(f"{folder}: no dealer_id from the folder names")
        print(f"{night}: every dataset reads in duckdb, polars, pyarrow and spark")

    # all nights of one table, with as_of (the README's recipes)
    total = sum(json.load(open(f"{n}/manifest.json"))["outputs"]["eligibility"]["rows"] for n in nights)
    dates = sorted(n.rsplit("as_of=", 1)[1] for n in nights)
    per = duckdb.sql(
        f"SELECT CAST(as_of AS VARCHAR) AS d, count(*) FROM read_parquet('{root}/as_of=*/eligibility/**/*.parquet', "
        "hive_partitioning = true) GROUP BY ALL ORDER BY 1"
    ).fetchall()
    if [d for d, _ in per] != dates or sum(n for _, n in per) != total:
        fail(f"duckdb, all nights: {per}, want {dates} and {total} rows")
    lf = pl.scan_parquet(f"{root}/as_of=*/eligibility/**/*.parquet", hive_partitioning=True)
    df = lf.group_by("as_of").len().sort("as_of").collect()
    if [str(d) for d in df["as_of"]] != dates or df["len"].sum() != total:
        fail(f"polars, all nights: {df}, want {dates} and {total} rows")
    if "dealer_id" not in lf.collect_schema().names():
        fail("polars, all nights: no dealer_id")
    sdf = reduce(
        lambda a, b: a.unionByName(b),
        [
            spark.read.parquet(f"{n}/eligibility").withColumn("as_of", F.lit(n.rsplit("as_of=", 1)[1]).cast("date"))
            for n in nights
        ],
    )
    rows = sorted((str(r["as_of"]), r["count"]) for r in sdf.groupBy("as_of").count().collect())
    if [d for d, _ in rows] != dates or sum(n for _, n in rows) != total or "dealer_id" not in sdf.columns:
        fail(f"spark, all nights: {rows}, want {dates} and {total} rows")
    print(f"all {len(nights)} nights of eligibility read with as_of in duckdb, polars and spark")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1])
