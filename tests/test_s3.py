"""S3 for real: catalog, images and exports on a real S3 API (moto's server on loopback),
behind a proxy that injects server errors, with credentials that must never leak."""
import http.client
import http.server
import io
import os
import subprocess
import sys
import threading
from pathlib import Path

import boto3
import pandas as pd
import pytest

from tests.conftest import make_catalog

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parent.parent
KEY_ID, SECRET = "AKIACATLOCTEST000042", "catloc/Secret+never-shown-0123456789abcd"


class FaultProxy(http.server.BaseHTTPRequestHandler):
    """Forwards to moto; every ``fault_every``-th request gets a 500 (a transient S3 fault)."""
    target: tuple[str, int] = ("127.0.0.1", 0)
    fault_every = 0
    count = 0
    injected = 0
    lock = threading.Lock()
    protocol_version = "HTTP/1.1"

    def _forward(self):
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        with FaultProxy.lock:
            FaultProxy.count += 1
            fault = FaultProxy.fault_every and FaultProxy.count % FaultProxy.fault_every == 0
            FaultProxy.injected += bool(fault)
        if fault:
            payload = b"<Error><Code>InternalError</Code><Message>injected</Message></Error>"
            self.send_response(500)
            self.send_header("Content-Type", "application/xml")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            return
        conn = http.client.HTTPConnection(*FaultProxy.target, timeout=30)
        headers = {k: v for k, v in self.headers.items() if k.lower() not in ("connection",)}
        conn.request(self.command, self.path, body=body or None, headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        self.send_response(resp.status)
        for k, v in resp.getheaders():
            if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _forward

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    from moto.server import ThreadedMotoServer
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    FaultProxy.target = moto.get_host_and_port()
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FaultProxy)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    direct = f"http://{FaultProxy.target[0]}:{FaultProxy.target[1]}"
    client = boto3.client("s3", endpoint_url=direct, aws_access_key_id=KEY_ID, aws_secret_access_key=SECRET,
                          region_name="us-east-1")
    for bucket in ("supplier", "exports"):
        client.create_bucket(Bucket=bucket)
    folder = tmp_path_factory.mktemp("s3cat")
    make_catalog(folder, 3)
    for path in folder.rglob("*.*"):
        client.upload_file(str(path), "supplier", f"acme/{path.relative_to(folder).as_posix()}")
    # one SKU whose image is missing from the bucket
    catalog = (folder / "catalog.csv").read_text() + "GONE-9,images/gone.jpg,1\n"
    client.put_object(Bucket="supplier", Key="acme/catalog.csv", Body=catalog.encode())
    yield client, f"http://127.0.0.1:{proxy.server_address[1]}"
    proxy.shutdown()
    moto.stop()


def _run(args, endpoint, home):
    env = dict(os.environ, AWS_ACCESS_KEY_ID=KEY_ID, AWS_SECRET_ACCESS_KEY=SECRET, AWS_DEFAULT_REGION="us-east-1",
               FSSPEC_S3_ENDPOINT_URL=endpoint, PREFECT_HOME=str(home), PREFECT_SERVER_ANALYTICS_ENABLED="false")
    env.pop("PREFECT_API_URL", None)
    return subprocess.run([sys.executable, "-m", "catloc.cli", *args], capture_output=True, text=True, env=env,
                          cwd=REPO, timeout=600)


def _objects(client, bucket, prefix):
    pages = client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [o["Key"] for page in pages for o in page.get("Contents", [])]


def test_catalog_and_exports_on_s3_with_injected_faults(s3, tmp_path):
    client, endpoint = s3
    FaultProxy.fault_every, FaultProxy.injected = 7, 0
    proc = _run(["run", "s3://supplier/acme/catalog.csv", "--market", "sa", "--out", "s3://exports/nightly",
                 "--run-id", "n1", "--candidates", "6", "--verbose"], endpoint, tmp_path / "ph")
    FaultProxy.fault_every = 0
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert FaultProxy.injected > 0  # faults really happened, and retries absorbed them
    keys = _objects(client, "exports", "nightly/n1/")
    assert {"nightly/n1/review.parquet", "nightly/n1/status.csv", "nightly/n1/index.html"} <= set(keys)
    assert [k for k in keys if k.startswith("nightly/n1/thumbs/SKU-00/") and k.endswith(".webp")]
    assert not [k for k in keys if ".tmp-" in k]
    status = pd.read_parquet(io.BytesIO(client.get_object(Bucket="exports", Key="nightly/n1/status.parquet")["Body"].read()))
    by = status.set_index("sku")
    assert (by.loc[["SKU-00", "SKU-01", "SKU-02"], "status"] == "done").all()
    assert by.loc["GONE-9", "status"] == "failed" and "image not found: s3://supplier/acme/images/gone.jpg" in by.loc["GONE-9", "error"]
    review = pd.read_parquet(io.BytesIO(client.get_object(Bucket="exports", Key="nightly/n1/review.parquet")["Body"].read()))
    assert len(review) == 18 and review["image"].str.startswith("skus/").all()
    # credentials never appear in output, logs or anything exported
    assert SECRET not in proc.stdout + proc.stderr and KEY_ID not in proc.stdout + proc.stderr
    for key in keys:
        if key.endswith((".csv", ".json")):
            text = client.get_object(Bucket="exports", Key=key)["Body"].read().decode("utf-8")
            assert SECRET not in text and KEY_ID not in text, key

    # status works against S3 too
    proc = _run(["status", "n1", "--out", "s3://exports/nightly"], endpoint, tmp_path / "ph")
    assert proc.returncode == 0 and "3 done" in proc.stderr

    # and so do picks: read from the run on S3, winners published to S3, manifest beside the run
    picks = tmp_path / "picks.csv"
    picks.write_text("run_id,market,sku,attempt,candidate_id,decision,image\nn1,sa,SKU-01,0,c02,pick,\n"
                     "n1,sa,SKU-01,0,c01,pick,\n", encoding="utf-8")
    proc = _run(["picks", "apply", "n1", str(picks), "--publish", "s3://exports/shop", "--out", "s3://exports/nightly",
                 "--allow-failed"],  # the small test photos fail QC for low resolution
                endpoint, tmp_path / "ph")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert set(_objects(client, "exports", "shop/")) == {"shop/SKU-01/sa_1.jpg", "shop/SKU-01/sa_2.jpg"}
    manifest = pd.read_parquet(io.BytesIO(client.get_object(Bucket="exports", Key="nightly/n1/published.parquet")["Body"].read()))
    assert list(manifest["published_uri"]) == ["s3://exports/shop/SKU-01/sa_1.jpg", "s3://exports/shop/SKU-01/sa_2.jpg"]


def test_unreachable_catalog_is_one_clear_error_without_secrets(s3, tmp_path):
    _, endpoint = s3
    proc = _run(["run", "s3://supplier/acme/missing.csv", "--market", "sa", "--out", str(tmp_path / "o")],
                endpoint, tmp_path / "ph")
    assert proc.returncode == 2 and "catalog not found: s3://supplier/acme/missing.csv" in proc.stderr
    assert SECRET not in proc.stderr
