"""Lookout for Vision script test: Debian's python3-boto3 (botocore 1.29.27,
the last botocore with the lookoutvision client) against a real
`bin/ocellus serve`, following AWS's getting-started flow on the cookie data
set: upload images, rewrite the manifest's relative source-refs to s3://
URIs, create project and dataset, CreateModel, poll to TRAINED, StartModel,
DetectAnomalies on every test image, StopModel, delete everything. Also:
errors with their HTTP statuses, idempotency, tags on encoded ARNs,
pagination, packaging jobs, and a kill -9 restart while a model is hosted.

Run by tests/run-l4v.sh with /usr/bin/python3. Prints "ok"/"FAIL" lines and
"N passed, M failed"; exits non-zero on any failure.
"""

import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time
import urllib.request
import zlib

import boto3
import botocore.config
from botocore.exceptions import ClientError

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.path.join(ROOT, "bin", "ocellus")
COOKIES = os.environ.get("OCELLUS_COOKIES", os.path.join(ROOT, "..", "shared", "datasets", "lookout-cookies"))
BACKBONE = os.environ.get("OCELLUS_BACKBONE", "")
KEY, SECRET = "AKIDALICE", "alice-secret"

passed = failed = 0


def check(name, fn):
    global passed, failed
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - a failed check reports anything
        failed += 1
        print("FAIL %s\n     %s: %s" % (name, type(e).__name__, str(e)[:600]), flush=True)
        return False
    passed += 1
    print("ok   %s" % name, flush=True)
    return True


def expect_error(fn, code, status):
    try:
        fn()
    except ClientError as e:
        got = (e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"])
        assert got == (code, status), "got %s, want %s %d: %s" % (got, code, status, e)
        return e
    raise AssertionError("no error, want %s" % code)


class Server:
    def __init__(self, work):
        self.work = work
        self.data = os.path.join(work, "data")
        s = socket.socket()
        s.bind(("127.0.0.1", 0))
        self.port = s.getsockname()[1]
        s.close()
        self.url = "http://127.0.0.1:%d" % self.port
        self.accounts = os.path.join(work, "accounts.json")
        with open(self.accounts, "w") as f:
            json.dump([{"AccountId": "111111111111", "AccessKeyId": KEY, "SecretAccessKey": SECRET},
                       {"AccountId": "222222222222", "AccessKeyId": "AKIDBOB", "SecretAccessKey": "bob-secret"}], f)
        self.proc = None

    def start(self):
        args = [BIN, "serve", "--addr", "127.0.0.1:%d" % self.port, "--data-dir", self.data, "--accounts", self.accounts]
        if BACKBONE:
            args += ["--backbone", BACKBONE]
        log = open(os.path.join(self.work, "server.log"), "a")
        self.proc = subprocess.Popen(args, stdout=log, stderr=log)
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
                return
            except urllib.error.HTTPError:
                return  # any HTTP answer means it listens
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start")

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.kill9()


def clients(url, key=KEY, secret=SECRET):
    cfg = botocore.config.Config(retries={"max_attempts": 1})
    kw = dict(endpoint_url=url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=secret, config=cfg)
    return boto3.client("lookoutvision", **kw), boto3.client("s3", **kw)


def wait(fn, done, timeout):
    deadline = time.time() + timeout
    while True:
        v = fn()
        if done(v):
            return v
        if time.time() > deadline:
            raise AssertionError("timed out; last answer %s" % v)
        time.sleep(0.5)


def main():
    if not os.access(BIN, os.X_OK):
        print("bin/ocellus missing: run make build")
        return 1
    work = tempfile.mkdtemp(prefix="ocellus-l4v.")
    srv = Server(work)
    srv.start()
    try:
        run(srv)
    finally:
        srv.stop()
        if failed:
            print("--- server log (tail) ---")
            with open(os.path.join(work, "server.log")) as f:
                print("".join(f.readlines()[-30:]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed else 0


def run(srv):
    lv, s3 = clients(srv.url)
    project = "cookies"

    # --- projects, errors, tags, idempotency, pagination --------------------
    arn = {}

    def create_project():
        r = lv.create_project(ProjectName=project, ClientToken="script-token-1")
        arn["p"] = r["ProjectMetadata"]["ProjectArn"]
        assert arn["p"] == "arn:aws:lookoutvision:us-east-1:111111111111:project/cookies", arn
        again = lv.create_project(ProjectName=project, ClientToken="script-token-1")
        assert again["ProjectMetadata"] == r["ProjectMetadata"], again

    check("create project (idempotent replay)", create_project)
    check("same token, other parameters: 409", lambda: expect_error(
        lambda: lv.create_project(ProjectName="other", ClientToken="script-token-1"), "ConflictException", 409))
    check("duplicate project: 409", lambda: expect_error(lambda: lv.create_project(ProjectName=project), "ConflictException", 409))
    check("unknown project: 404", lambda: expect_error(lambda: lv.describe_project(ProjectName="nope"), "ResourceNotFoundException", 404))
    check("bad project name: 400", lambda: expect_error(lambda: lv.create_project(ProjectName="a.b"), "ValidationException", 400))
    bob, _ = clients(srv.url, "AKIDBOB", "bob-secret")
    check("other account's ARN: 403", lambda: expect_error(
        lambda: bob.list_tags_for_resource(ResourceArn=arn["p"]), "AccessDeniedException", 403))

    def tags():
        lv.tag_resource(ResourceArn=arn["p"], Tags=[{"Key": "team", "Value": "qa"}, {"Key": "line/1", "Value": "a b"}])
        got = lv.list_tags_for_resource(ResourceArn=arn["p"])["Tags"]
        assert sorted(t["Key"] for t in got) == ["line/1", "team"], got
        lv.untag_resource(ResourceArn=arn["p"], TagKeys=["team", "line/1"])
        assert lv.list_tags_for_resource(ResourceArn=arn["p"])["Tags"] == []

    check("tags on the encoded project ARN", tags)

    def pagination():
        for i in range(3):
            lv.create_project(ProjectName="page-%d" % i)
        names, token, pages = [], None, 0
        while True:
            kw = {"MaxResults": 2}
            if token:
                kw["NextToken"] = token
            r = lv.list_projects(**kw)
            pages += 1
            names += [p["ProjectName"] for p in r["Projects"]]
            token = r.get("NextToken")
            if not token:
                break
        assert pages == 2 and names == [project, "page-0", "page-1", "page-2"], (pages, names)
        paginator = lv.get_paginator("list_projects")
        assert sum(len(p["Projects"]) for p in paginator.paginate(PaginationConfig={"PageSize": 1})) == 4
        for i in range(3):
            lv.delete_project(ProjectName="page-%d" % i)

    check("ListProjects pagination (and boto3 paginator)", pagination)

    if not os.path.isdir(COOKIES):
        print("skip cookie flow: %s not found" % COOKIES)
        return

    # --- the getting-started flow on the cookie data set ----------------------
    bucket = "lookout-cookies-script"

    def upload():
        s3.create_bucket(Bucket=bucket)
        for sub in ("training-images", "mask-images", "test-images"):
            for name in sorted(os.listdir(os.path.join(COOKIES, sub))):
                s3.upload_file(os.path.join(COOKIES, sub, name), bucket, "cookies/%s/%s" % (sub, name))
        # AWS's script rewrites the relative refs to s3:// URIs.
        lines = []
        with open(os.path.join(COOKIES, "manifests", "template.manifest")) as f:
            for line in f:
                if not line.strip():
                    continue
                obj = json.loads(line)
                obj["source-ref"] = "s3://%s/cookies/%s" % (bucket, obj["source-ref"])
                if "anomaly-mask-ref" in obj:
                    obj["anomaly-mask-ref"] = "s3://%s/cookies/%s" % (bucket, obj["anomaly-mask-ref"])
                lines.append(json.dumps(obj))
        s3.put_object(Bucket=bucket, Key="cookies/manifests/train.manifest", Body=("\n".join(lines) + "\n").encode())

    if not check("upload cookie images and s3:// manifest", upload):
        return

    def dataset():
        r = lv.create_dataset(ProjectName=project, DatasetType="train", ClientToken="ds-token",
                              DatasetSource={"GroundTruthManifest": {"S3Object": {"Bucket": bucket, "Key": "cookies/manifests/train.manifest"}}})
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 202 and r["DatasetMetadata"]["Status"] == "CREATE_IN_PROGRESS", r
        # AWS's datasets.py reads it unconditionally right after CreateDataset.
        assert r["DatasetMetadata"]["StatusMessage"], r
        early = lv.describe_dataset(ProjectName=project, DatasetType="train")["DatasetDescription"]
        assert early["StatusMessage"], early
        for d in lv.describe_project(ProjectName=project)["ProjectDescription"]["Datasets"]:
            assert d["StatusMessage"], d
        d = wait(lambda: lv.describe_dataset(ProjectName=project, DatasetType="train")["DatasetDescription"],
                 lambda d: not d["Status"].endswith("IN_PROGRESS"), 120)
        assert d["Status"] == "CREATE_COMPLETE", d
        st = d["ImageStats"]
        assert st["Total"] == 63 and st["Labeled"] == 63 and st["Normal"] + st["Anomaly"] == 63, st

    if not check("CreateDataset from the manifest (StatusMessage at once, as datasets.py reads it) -> CREATE_COMPLETE", dataset):
        return

    def entries():
        anomalies, token = [], None
        while True:
            kw = {"ProjectName": project, "DatasetType": "train", "AnomalyClass": "anomaly", "MaxResults": 10}
            if token:
                kw["NextToken"] = token
            r = lv.list_dataset_entries(**kw)
            anomalies += r["DatasetEntries"]
            token = r.get("NextToken")
            if not token:
                break
        normal = lv.describe_dataset(ProjectName=project, DatasetType="train")["DatasetDescription"]["ImageStats"]["Anomaly"]
        assert len(anomalies) == normal, (len(anomalies), normal)
        assert all(json.loads(e)["source-ref"].startswith("s3://") for e in anomalies)

    check("ListDatasetEntries anomalyClass filter with pagination", entries)

    out = {}

    def create_model():
        t0 = time.time()
        r = lv.create_model(ProjectName=project, Description="cookies-1", ClientToken="model-token",
                            OutputConfig={"S3Location": {"Bucket": bucket, "Prefix": "output/"}},
                            Tags=[{"Key": "stage", "Value": "script"}])
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 202 and r["ModelMetadata"]["Status"] == "TRAINING", r
        out["arn"] = r["ModelMetadata"]["ModelArn"]
        assert r["ModelMetadata"]["StatusMessage"], r
        early = lv.describe_model(ProjectName=project, ModelVersion="1")["ModelDescription"]
        assert early["StatusMessage"], early  # models.py prints it unconditionally
        m = wait(lambda: lv.describe_model(ProjectName=project, ModelVersion="1")["ModelDescription"],
                 lambda m: m["Status"] != "TRAINING", 600)
        out["train_s"] = time.time() - t0
        assert m["Status"] == "TRAINED", m
        p = m["Performance"]
        print("     training %.1f s; Performance F1 %.3f precision %.3f recall %.3f" % (out["train_s"], p["F1Score"], p["Precision"], p["Recall"]))
        s3.head_object(Bucket=m["EvaluationResult"]["Bucket"], Key=m["EvaluationResult"]["Key"])
        s3.head_object(Bucket=m["EvaluationManifest"]["Bucket"], Key=m["EvaluationManifest"]["Key"])
        tags = lv.list_tags_for_resource(ResourceArn=out["arn"])["Tags"]
        assert tags == [{"Key": "stage", "Value": "script"}], tags

    if not check("CreateModel -> TRAINED with Performance and evaluation objects", create_model):
        return

    def start():
        r = lv.start_model(ProjectName=project, ModelVersion="1", MinInferenceUnits=1, ClientToken="start-token")
        assert r["Status"] == "STARTING_HOSTING" and r["ResponseMetadata"]["HTTPStatusCode"] == 202, r
        m = wait(lambda: lv.describe_model(ProjectName=project, ModelVersion="1")["ModelDescription"],
                 lambda m: m["Status"] != "STARTING_HOSTING", 120)
        assert m["Status"] == "HOSTED", m

    if not check("StartModel -> HOSTED", start):
        return
    check("DeleteModel while hosted: 409", lambda: expect_error(
        lambda: lv.delete_model(ProjectName=project, ModelVersion="1"), "ConflictException", 409))

    def detect_all():
        test_dir = os.path.join(COOKIES, "test-images")
        right, lat, scores = 0, [], []
        names = sorted(os.listdir(test_dir))
        for name in names:
            with open(os.path.join(test_dir, name), "rb") as f:
                body = f.read()
            t0 = time.time()
            r = lv.detect_anomalies(ProjectName=project, ModelVersion="1", Body=body, ContentType="image/jpeg")["DetectAnomalyResult"]
            lat.append(time.time() - t0)
            truth = "anomaly" in name
            right += r["IsAnomalous"] == truth
            assert r["Source"]["Type"] == "direct" and 0.5 <= r["Confidence"] <= 1, r
            if r.get("Anomalies"):
                assert r["Anomalies"][0]["Name"].lower() == "background" and r["AnomalyMask"][:4] == b"\x89PNG", r["Anomalies"]
            s = r["Confidence"] if r["IsAnomalous"] else 1 - r["Confidence"]
            scores.append((s, truth))
        pos = [s for s, t in scores if t]
        neg = [s for s, t in scores if not t]
        auroc = sum((p > n) + 0.5 * (p == n) for p in pos for n in neg) / (len(pos) * len(neg))
        lat.sort()
        acc = right / len(names)
        print("     %d test images: accuracy %.3f, AUROC %.3f (from Confidence), DetectAnomalies p50 %.0f ms over HTTP"
              % (len(names), acc, auroc, 1000 * lat[len(lat) // 2]))
        assert len(names) == 22, names
        # The bar for the ONNX backbone; the built-in extractor is much weaker.
        assert acc >= (0.9 if BACKBONE else 0.5), acc

    check("DetectAnomalies on all test images", detect_all)
    def wrong_size():
        e = expect_error(lambda: lv.detect_anomalies(ProjectName=project, ModelVersion="1", ContentType="image/png", Body=_png(64, 64)),
                         "ValidationException", 400)
        assert "64x64" in str(e), e

    check("wrong image size: 400 naming the sizes", wrong_size)

    def restart_hosted():
        srv.kill9()
        srv.start()
        lv2, _ = clients(srv.url)
        m = wait(lambda: lv2.describe_model(ProjectName=project, ModelVersion="1")["ModelDescription"],
                 lambda m: m["Status"] != "STARTING_HOSTING", 120)
        assert m["Status"] == "HOSTED", m
        with open(os.path.join(COOKIES, "test-images", "test-anomaly-1.jpg"), "rb") as f:
            body = f.read()
        r = wait(lambda: _try(lambda: lv2.detect_anomalies(ProjectName=project, ModelVersion="1", Body=body, ContentType="image/jpeg")),
                 lambda r: r is not None, 60)
        assert "DetectAnomalyResult" in r

    check("kill -9 while HOSTED: HOSTED again after restart", restart_hosted)

    def packaging():
        lv.start_model_packaging_job(ProjectName=project, ModelVersion="1", JobName="edge-1",
                                     Configuration={"Greengrass": {"ComponentName": "com.example.cookies", "TargetPlatform": {"Os": "LINUX", "Arch": "X86_64"},
                                                                   "S3OutputLocation": {"Bucket": bucket, "Prefix": "edge/"}}})
        j = wait(lambda: lv.describe_model_packaging_job(ProjectName=project, JobName="edge-1")["ModelPackagingDescription"],
                 lambda j: j["Status"] in ("SUCCEEDED", "FAILED"), 120)
        assert j["Status"] == "SUCCEEDED", j
        assert j["ModelPackagingConfiguration"]["Greengrass"]["TargetPlatform"]["Arch"] == "X86_64", j
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="edge/")["Contents"]]
        assert "edge/com.example.cookies/1.0.0/model.ocellus-anomaly" in keys and "edge/com.example.cookies/1.0.0/README.md" in keys, keys
        jobs = lv.list_model_packaging_jobs(ProjectName=project)["ModelPackagingJobs"]
        assert [x["JobName"] for x in jobs] == ["edge-1"], jobs

    check("model packaging job -> SUCCEEDED, package in S3", packaging)

    def package_offline():
        # The package runs without a server: `ocellus predict` answers as the
        # hosted model does.
        prefix = "edge/com.example.cookies/1.0.0/"
        with tempfile.TemporaryDirectory() as d:
            keys = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix=prefix)["Contents"]]
            for k in keys:
                s3.download_file(bucket, k, os.path.join(d, k[len(prefix):]))
            img = os.path.join(COOKIES, "test-images", "test-anomaly-1.jpg")
            args = [BIN, "predict", "--model", os.path.join(d, "model.ocellus-anomaly"), "--mask-dir", os.path.join(d, "masks"), img]
            if os.path.exists(os.path.join(d, "backbone.onnx")):
                args[2:2] = ["--backbone", os.path.join(d, "backbone.onnx")]
            out = subprocess.run(args, check=True, capture_output=True, timeout=120).stdout
            offline = json.loads(out)["DetectAnomalyResult"]
            with open(img, "rb") as f:
                hosted = lv.detect_anomalies(ProjectName=project, ModelVersion="1", Body=f.read(), ContentType="image/jpeg")["DetectAnomalyResult"]
            assert offline["IsAnomalous"] == hosted["IsAnomalous"] and abs(offline["Confidence"] - hosted["Confidence"]) < 1e-6, (offline, hosted)
            assert [a["Name"] for a in offline.get("Anomalies", [])] == [a["Name"] for a in hosted.get("Anomalies", [])], (offline, hosted)
            if hosted.get("AnomalyMask"):
                with open(os.path.join(d, "masks", "test-anomaly-1.jpg.mask.png"), "rb") as f:
                    assert f.read() == hosted["AnomalyMask"], "mask differs"

    check("package offline: ocellus predict answers as the hosted model", package_offline)

    def stop():
        r = lv.stop_model(ProjectName=project, ModelVersion="1")
        assert r["Status"] == "STOPPING_HOSTING", r
        m = wait(lambda: lv.describe_model(ProjectName=project, ModelVersion="1")["ModelDescription"],
                 lambda m: m["Status"] != "STOPPING_HOSTING", 60)
        assert m["Status"] == "TRAINED", m

    check("StopModel -> TRAINED", stop)

    def delete_all():
        expect_error(lambda: lv.delete_project(ProjectName=project), "ConflictException", 409)
        lv.delete_model(ProjectName=project, ModelVersion="1")
        lv.delete_dataset(ProjectName=project, DatasetType="train")
        lv.delete_project(ProjectName=project)
        assert lv.list_projects()["Projects"] == []

    check("delete model, dataset, project", delete_all)


def _try(fn):
    try:
        return fn()
    except ClientError:
        return None


def _png(w, h):
    """A grey w x h PNG, written by hand (no imaging library needed)."""
    raw = b"".join(b"\x00" + b"\x80" * (3 * w) for _ in range(h))

    def chunk(typ, data):
        return struct.pack(">I", len(data)) + typ + data + struct.pack(">I", zlib.crc32(typ + data) & 0xFFFFFFFF)

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


if __name__ == "__main__":
    sys.exit(main())
