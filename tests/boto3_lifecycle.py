"""boto3 against a running Ocellus (OCELLUS_URL): the Custom Labels model
lifecycle a user script runs -- datasets from a manifest in S3, training with
the boto3 waiter, hosting, DetectCustomLabels, copying to another account
under a project policy, and cleaning up."""
import json
import os
import random
import struct
import sys
import zlib

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["OCELLUS_URL"]
CFG = Config(retries={"max_attempts": 3}, s3={"addressing_style": "path"})
failures = []


def client(service, key="AKIDALICE", secret="alice-secret"):
    return boto3.client(service, endpoint_url=URL, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret, config=CFG)


def expect(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f" ({detail})"))
    if not cond:
        failures.append(name)


def code(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


def png(rgb, rng, w=96, h=80):
    """A noisy single-colour RGB PNG, written without an imaging library."""
    rows = bytearray()
    for _ in range(h):
        rows.append(0)
        for _ in range(w):
            rows.extend(max(0, min(255, c + rng.randint(-30, 30))) for c in rgb)
    def chunk(tag, data):
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(bytes(rows))) + chunk(b"IEND", b""))


def line(bucket, key, label):
    return json.dumps({"source-ref": f"s3://{bucket}/{key}", "label": 1, "label-metadata": {
        "class-name": label, "confidence": 1, "type": "groundtruth/image-classification",
        "human-annotated": "yes", "creation-date": "2024-01-01T00:00:00.000", "job-name": "boto3-test"}})


rng = random.Random(7)
s3, rek = client("s3"), client("rekognition")
bob_s3, bob = client("s3", "AKIDBOB", "bob-secret"), client("rekognition", "AKIDBOB", "bob-secret")
s3.create_bucket(Bucket="lifecycle")
lines = []
for label, rgb in (("green", (40, 190, 40)), ("yellow", (210, 200, 30))):
    for i in range(30):
        key = f"img/{label}/{i:02d}.png"
        s3.put_object(Bucket="lifecycle", Key=key, Body=png(rgb, rng))
        lines.append(line("lifecycle", key, label))
s3.put_object(Bucket="lifecycle", Key="train.manifest", Body="\n".join(lines).encode())
held_out = png((40, 190, 40), random.Random(99))
import time

def wait_dataset(arn):
    deadline = time.time() + 60
    while time.time() < deadline:
        d = rek.describe_dataset(DatasetArn=arn)["DatasetDescription"]
        if not d["Status"].endswith("IN_PROGRESS"):
            return d
        time.sleep(0.2)
    return d


# Multi-label and object-detection manifests import with the right stats.
ml = []
for i in range(4):
    key = f"img/green/{i:02d}.png"
    entry = {"source-ref": f"s3://lifecycle/{key}", "colour": 1, "colour-metadata": {"class-name": "green", "type": "groundtruth/image-classification"}}
    if i % 2 == 0:
        entry.update({"shape": 1, "shape-metadata": {"class-name": "square", "type": "groundtruth/image-classification"}})
    ml.append(json.dumps(entry))
s3.put_object(Bucket="lifecycle", Key="multi.manifest", Body="\n".join(ml).encode())
det = []
for i in range(3):
    det.append(json.dumps({"source-ref": f"s3://lifecycle/img/yellow/{i:02d}.png",
                           "bb": {"image_size": [{"width": 96, "height": 80, "depth": 3}],
                                  "annotations": [{"class_id": 0, "left": 5, "top": 5, "width": 30, "height": 30},
                                                  {"class_id": 1, "left": 50, "top": 30, "width": 20, "height": 20}]},
                           "bb-metadata": {"objects": [{"confidence": 1}, {"confidence": 1}], "class-map": {"0": "lemon", "1": "seed"},
                                           "type": "groundtruth/object-detection", "human-annotated": "yes"}}))
s3.put_object(Bucket="lifecycle", Key="det.manifest", Body="\n".join(det).encode())
for name, key, want in (("multi", "multi.manifest", {"green": (4, 0), "square": (2, 0)}),
                        ("detect", "det.manifest", {"lemon": (3, 3), "seed": (3, 3)})):
    p = rek.create_project(ProjectName=f"boto3-{name}")["ProjectArn"]
    d = rek.create_dataset(ProjectArn=p, DatasetType="TRAIN", DatasetSource={
        "GroundTruthManifest": {"S3Object": {"Bucket": "lifecycle", "Name": key}}})["DatasetArn"]
    desc = wait_dataset(d)
    got = {l["LabelName"]: (l["LabelStats"]["EntryCount"], l["LabelStats"].get("BoundingBoxCount", 0))
           for l in rek.list_dataset_labels(DatasetArn=d)["DatasetLabelDescriptions"]}
    expect(f"{name} manifest imported with label stats", desc["Status"] == "CREATE_COMPLETE" and got == want, (desc["Status"], got))
    rek.delete_dataset(DatasetArn=d)
    rek.delete_project(ProjectArn=p)

# A manifest that is mostly bad fails the dataset with AWS's terminal code.
s3.put_object(Bucket="lifecycle", Key="bad.manifest", Body=b"not json\n{}\n" + lines[0].encode() + b"\n")
p = rek.create_project(ProjectName="boto3-bad")["ProjectArn"]
d = wait_dataset(rek.create_dataset(ProjectArn=p, DatasetType="TRAIN", DatasetSource={
    "GroundTruthManifest": {"S3Object": {"Bucket": "lifecycle", "Name": "bad.manifest"}}})["DatasetArn"])
expect("mostly bad manifest -> CREATE_FAILED with the terminal code", d["Status"] == "CREATE_FAILED"
       and "ERROR_TOO_MANY_INVALID_ROWS_IN_MANIFEST" in d.get("StatusMessage", ""), d)
expect("missing manifest -> InvalidS3ObjectException", code(rek.create_dataset, ProjectArn=p, DatasetType="TEST", DatasetSource={
    "GroundTruthManifest": {"S3Object": {"Bucket": "lifecycle", "Name": "nope.manifest"}}}) == "InvalidS3ObjectException")
rek.delete_project(ProjectArn=p)

project = rek.create_project(ProjectName="boto3-lifecycle")["ProjectArn"]
train = rek.create_dataset(ProjectArn=project, DatasetType="TRAIN", DatasetSource={
    "GroundTruthManifest": {"S3Object": {"Bucket": "lifecycle", "Name": "train.manifest"}}})["DatasetArn"]
# As AWS's md-add-images.py does, read the status message right after
# CreateDataset, while the import runs: AWS sends it in every state.
early = rek.describe_dataset(DatasetArn=train)["DatasetDescription"]
expect("describe_dataset right after create_dataset has StatusMessage and StatusMessageCode",
       isinstance(early.get("StatusMessage"), str) and early["StatusMessage"] and early.get("StatusMessageCode") in ("SUCCESS", "SERVICE_ERROR", "CLIENT_ERROR"), early)
listed = rek.describe_projects(ProjectNames=["boto3-lifecycle"])["ProjectDescriptions"][0]["Datasets"]
expect("describe_projects datasets have StatusMessage and StatusMessageCode",
       listed and all(d.get("StatusMessage") and d.get("StatusMessageCode") for d in listed), listed)
test = rek.create_dataset(ProjectArn=project, DatasetType="TEST")["DatasetArn"]
import time
deadline = time.time() + 60
while rek.describe_dataset(DatasetArn=train)["DatasetDescription"]["Status"] == "CREATE_IN_PROGRESS" and time.time() < deadline:
    time.sleep(0.2)
desc = rek.describe_dataset(DatasetArn=train)["DatasetDescription"]
expect("dataset created with stats", desc["Status"] == "CREATE_COMPLETE" and desc["DatasetStats"]["TotalEntries"] == 60
       and desc["DatasetStats"]["TotalLabels"] == 2, desc)
labels = {l["LabelName"]: l["LabelStats"]["EntryCount"] for l in rek.list_dataset_labels(DatasetArn=train)["DatasetLabelDescriptions"]}
expect("list_dataset_labels", labels == {"green": 30, "yellow": 30}, labels)
entries = [e for p in rek.get_paginator("list_dataset_entries").paginate(DatasetArn=train, PaginationConfig={"PageSize": 25})
           for e in p["DatasetEntries"]]
expect("list_dataset_entries paginator", len(entries) == 60 and all('"cl-metadata"' in e for e in entries), len(entries))
rek.distribute_dataset_entries(Datasets=[{"Arn": train}, {"Arn": test}])
counts = [rek.describe_dataset(DatasetArn=a)["DatasetDescription"]["DatasetStats"]["TotalEntries"] for a in (train, test)]
expect("distribute_dataset_entries leaves 80/20", counts == [48, 12], counts)

version = rek.create_project_version(ProjectArn=project, VersionName="v1",
                                     OutputConfig={"S3Bucket": "lifecycle", "S3KeyPrefix": "output"})["ProjectVersionArn"]
training = rek.describe_project_versions(ProjectArn=project, VersionNames=["v1"])["ProjectVersionDescriptions"][0]
expect("describe_project_versions while training has StatusMessage", bool(training.get("StatusMessage")), training)
rek.get_waiter("project_version_training_completed").wait(
    ProjectArn=project, VersionNames=["v1"], WaiterConfig={"Delay": 1, "MaxAttempts": 180})
pv = rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"][0]
expect("trained with an evaluation", pv["Status"] == "TRAINING_COMPLETED" and pv["EvaluationResult"]["F1Score"] > 0.9, pv.get("EvaluationResult"))
summary_obj = pv["EvaluationResult"]["Summary"]["S3Object"]
summary = json.loads(s3.get_object(Bucket=summary_obj["Bucket"], Key=summary_obj["Name"])["Body"].read())
expect("evaluation summary in the output bucket", summary["EvaluationDetails"]["NumberOfTestingImages"] == 12, summary["EvaluationDetails"])

rek.start_project_version(ProjectVersionArn=version, MinInferenceUnits=1)
rek.get_waiter("project_version_running").wait(ProjectArn=project, VersionNames=["v1"], WaiterConfig={"Delay": 1, "MaxAttempts": 60})
out = rek.detect_custom_labels(ProjectVersionArn=version, Image={"Bytes": held_out}, MinConfidence=0)
expect("detect_custom_labels on a held-out image", out["CustomLabels"][0]["Name"] == "green" and len(out["CustomLabels"]) == 2, out["CustomLabels"])
expect("detect on garbage -> InvalidImageFormatException",
       code(rek.detect_custom_labels, ProjectVersionArn=version, Image={"Bytes": b"garbage"}) == "InvalidImageFormatException")
rek.stop_project_version(ProjectVersionArn=version)
deadline = time.time() + 30
while rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"][0]["Status"] != "STOPPED" and time.time() < deadline:
    time.sleep(0.2)
expect("stopped model -> ResourceNotReadyException",
       code(rek.detect_custom_labels, ProjectVersionArn=version, Image={"Bytes": held_out}) == "ResourceNotReadyException")

bob_s3.create_bucket(Bucket="bob-lifecycle")
dest = bob.create_project(ProjectName="from-alice")["ProjectArn"]
copy_args = dict(SourceProjectArn=project, SourceProjectVersionArn=version, DestinationProjectArn=dest,
                 VersionName="copied", OutputConfig={"S3Bucket": "bob-lifecycle"})
expect("copy to another account without a policy -> AccessDeniedException",
       code(bob.copy_project_version, **copy_args) == "AccessDeniedException")
rek.put_project_policy(ProjectArn=project, PolicyName="share", PolicyDocument=json.dumps({
    "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::222222222222:root"},
                                            "Action": "rekognition:CopyProjectVersion", "Resource": version}]}))
copied = bob.copy_project_version(**copy_args)["ProjectVersionArn"]
deadline = time.time() + 60
while bob.describe_project_versions(ProjectArn=dest)["ProjectVersionDescriptions"][0]["Status"] == "COPYING_IN_PROGRESS" and time.time() < deadline:
    time.sleep(0.2)
expect("copy allowed by the policy", bob.describe_project_versions(ProjectArn=dest)["ProjectVersionDescriptions"][0]["Status"] == "COPYING_COMPLETED")

for c, arn, proj in ((rek, version, project), (bob, copied, dest)):
    c.delete_project_version(ProjectVersionArn=arn)
    for d in c.describe_projects(ProjectNames=[proj.split("/")[1]])["ProjectDescriptions"][0]["Datasets"]:
        c.delete_dataset(DatasetArn=d["DatasetArn"])
    c.delete_project(ProjectArn=proj)
expect("everything deleted", not rek.describe_projects(ProjectNames=["boto3-lifecycle"])["ProjectDescriptions"]
       and not bob.describe_projects(ProjectNames=["from-alice"])["ProjectDescriptions"])
print(f"boto3 lifecycle: {len(failures)} failures")
sys.exit(1 if failures else 0)
