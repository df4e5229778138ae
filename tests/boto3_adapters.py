"""Custom Moderation adapters with boto3 against a running Ocellus
(OCELLUS_URL) whose content moderation base model is installed.

With a boto3 whose Rekognition model knows adapters (1.43): a
CONTENT_MODERATION project, an adapter trained from a
content-moderation-groundtruth manifest in the embedded S3 (real
playing-card photos labelled Gambling, safe photos of the other sets of
../shared/datasets), the project_version_training_completed waiter, the
evaluation and output manifest files, DetectModerationLabels with and
without the adapter, and the refusals. It writes the adapter's ARNs to
OCELLUS_ADAPTER_STATE.

With Debian's python3-boto3 1.26 (botocore 1.29), whose Rekognition model
predates adapters (no Feature, FeatureConfig or ProjectVersion members):
what an old client sees of the adapter the first run left
(OCELLUS_ADAPTER_STATE): DescribeProjects without Features leaves the
CONTENT_MODERATION project out, DescribeProjectVersions parses the
adapter's description, StartProjectVersion on it is refused,
DetectModerationLabels without an adapter answers."""
import glob
import json
import os
import sys

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["OCELLUS_URL"]
STATE = os.environ["OCELLUS_ADAPTER_STATE"]
CFG = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DATA = os.path.join(ROOT, "..", "shared", "datasets")
BASE = "ocellus-nsfwjs-4.4.0"
failures = []


def client(service):
    return boto3.client(service, endpoint_url=URL, region_name="us-east-1",
                        aws_access_key_id="AKIDALICE", aws_secret_access_key="alice-secret", config=CFG)


def expect(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else f" ({detail})"))
    if not cond:
        failures.append(name)


def error(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["Error"].get("Message", "")
    return None, ""


def photos(folder, n, parity=None):
    """n photos evenly spaced in the sorted list of a dataset folder (only
    the even or odd positions when parity is 0 or 1)."""
    files = sorted(f for f in glob.glob(os.path.join(DATA, folder, "**", "*"), recursive=True)
                   if f.lower().endswith((".jpg", ".jpeg", ".png")))
    if parity is not None:
        files = files[parity::2]
    n = min(n, len(files))
    return [files[i * len(files) // n] for i in range(n)]


def key_of(path):
    return os.path.relpath(path, DATA).replace(os.sep, "/")


rek, s3 = client("rekognition"), client("s3")
new_client = "Feature" in rek.meta.service_model.operation_model("CreateProject").input_shape.members

if new_client:
    train = [(p, True) for p in photos("playing-cards/train", 10)]
    test = [(p, True) for p in photos("playing-cards/test", 8)]
    for tr, te in [("clothing-small/train", "clothing-small/test"), ("hazelnut-toy/train", "hazelnut-toy/test")]:
        train += [(p, False) for p in photos(tr, 2)]
        test += [(p, False) for p in photos(te, 2)]
    for folder in ["sign-language-digits", "lookout-cookies/training-images", "bccd/JPEGImages", "deeppcb"]:
        train += [(p, False) for p in photos(folder, 2, 0)]
        test += [(p, False) for p in photos(folder, 2, 1)]
    s3.create_bucket(Bucket="adapters")
    s3.create_bucket(Bucket="adapter-out")

    def manifest(name, items):
        lines = []
        for path, gambling in items:
            with open(path, "rb") as f:
                s3.put_object(Bucket="adapters", Key=key_of(path), Body=f.read())
            labels = [{"Name": "Gambling"}] if gambling else []
            lines.append(json.dumps({"source-ref": f"s3://adapters/{key_of(path)}",
                                     "content-moderation-groundtruth": {"ModerationLabels": labels}}))
        s3.put_object(Bucket="adapters", Key=name, Body="\n".join(lines).encode())
        return {"Assets": [{"GroundTruthManifest": {"S3Object": {"Bucket": "adapters", "Name": name}}}]}

    training, testing = manifest("train.manifest", train), manifest("test.manifest", test)
    feature = {"ContentModeration": {"ConfidenceThreshold": 50}}

    cl = rek.create_project(ProjectName="boto3-labels")["ProjectArn"]
    c, msg = error(rek.create_project_version, ProjectArn=cl, VersionName="v1",
                   OutputConfig={"S3Bucket": "adapter-out"}, FeatureConfig=feature)
    expect("FeatureConfig on a CUSTOM_LABELS project: InvalidParameterException",
           c == "InvalidParameterException" and "CUSTOM_LABELS" in msg, f"{c}: {msg}")

    project = rek.create_project(ProjectName="boto3-cards", Feature="CONTENT_MODERATION", AutoUpdate="DISABLED")["ProjectArn"]
    listed = [p["ProjectArn"] for p in rek.describe_projects(Features=["CONTENT_MODERATION"])["ProjectDescriptions"]]
    expect("describe_projects(Features=[CONTENT_MODERATION]) lists it", listed == [project], listed)
    arn = rek.create_project_version(ProjectArn=project, VersionName="gambling", FeatureConfig=feature,
                                     TrainingData=training, TestingData=testing,
                                     OutputConfig={"S3Bucket": "adapter-out", "S3KeyPrefix": "runs/"})["ProjectVersionArn"]
    card = open(test[0][0], "rb").read()

    # Without a hold hook in this process, training may already be over;
    # TestModerationAdapter (Go) checks this refusal deterministically.
    c, msg = error(rek.detect_moderation_labels, Image={"Bytes": card}, ProjectVersion=arn)
    if c is None:
        st = rek.describe_project_versions(ProjectArn=project)["ProjectVersionDescriptions"][0]["Status"]
        expect("adapter answered right after creation: its training was already over", st == "TRAINING_COMPLETED", st)
    else:
        expect("adapter still training: ResourceNotReadyException naming TRAINING_IN_PROGRESS",
               c == "ResourceNotReadyException" and "TRAINING_IN_PROGRESS" in msg, f"{c}: {msg}")

    rek.get_waiter("project_version_training_completed").wait(
        ProjectArn=project, VersionNames=["gambling"], WaiterConfig={"Delay": 1, "MaxAttempts": 600})
    pv = rek.describe_project_versions(ProjectArn=project, VersionNames=["gambling"])["ProjectVersionDescriptions"][0]
    expect("waiter: TRAINING_COMPLETED with Feature, FeatureConfig, BaseModelVersion",
           pv["Status"] == "TRAINING_COMPLETED" and pv.get("Feature") == "CONTENT_MODERATION" and pv.get("BaseModelVersion") == BASE
           and pv.get("FeatureConfig", {}).get("ContentModeration", {}).get("ConfidenceThreshold") == 50, pv)

    so = pv["EvaluationResult"]["Summary"]["S3Object"]
    ev = json.loads(s3.get_object(Bucket=so["Bucket"], Key=so["Name"])["Body"].read())
    g = [l for l in ev["LabelEvaluationResults"] if l["Label"] == "Gambling"]
    cards = sum(1 for _, gambling in test if gambling)
    ok = len(g) == 1 and so["Name"].startswith("runs/")
    if ok:
        a, b = g[0]["AtConfidenceThreshold"]["Adapter"], g[0]["AtConfidenceThreshold"]["BaseModel"]
        ok = (not g[0]["BaseModelEmitsLabel"] and b["TruePositives"] == 0 and b["FalseNegatives"] == cards
              and a["TruePositives"] + a["FalseNegatives"] == cards and a["TruePositives"] >= 0.7 * cards
              and len(g[0]["Thresholds"]) == 20 and ev["EvaluationDetails"]["NumberOfTestingImages"] == len(test))
    expect("evaluation file: Gambling, base model finds no card, the adapter most of them",
           ok, g or ev["LabelEvaluationResults"])
    expect("EvaluationResult.F1Score is the file's aggregate",
           abs(pv["EvaluationResult"]["F1Score"] - ev["AggregatedEvaluationResults"]["F1Score"]) < 1e-6, pv["EvaluationResult"])

    om = pv["TestingDataResult"]["Output"]["Assets"][0]["GroundTruthManifest"]["S3Object"]
    lines = [json.loads(l) for l in s3.get_object(Bucket=om["Bucket"], Key=om["Name"])["Body"].read().splitlines() if l.strip()]
    expect("output manifest: one line per test image with both models' answers",
           len(lines) == len(test) and all("detect-moderation-labels" in l and "detect-moderation-labels-base-model" in l
                                           and "content-moderation-groundtruth" in l for l in lines), lines[:2])

    r = rek.detect_moderation_labels(Image={"Bytes": card}, ProjectVersion=arn)
    in_file = [m["Name"] for m in lines[0]["detect-moderation-labels"]["ModerationLabels"]]
    expect("with the adapter: ProjectVersion set, the output manifest's answer for this card",
           r.get("ProjectVersion") == arn and [m["Name"] for m in r["ModerationLabels"]] == in_file, (r, in_file))
    r = rek.detect_moderation_labels(Image={"Bytes": card})
    expect("without the adapter: no Gambling, no ProjectVersion",
           "ProjectVersion" not in r and all(m["Name"] != "Gambling" for m in r["ModerationLabels"]), r)

    c, msg = error(rek.start_project_version, ProjectVersionArn=arn, MinInferenceUnits=1)
    expect("start_project_version on an adapter: InvalidParameterException",
           c == "InvalidParameterException" and "Custom Moderation adapter" in msg, f"{c}: {msg}")
    unknown = arn.replace("/version/gambling/", "/version/nope/")
    c, msg = error(rek.detect_moderation_labels, Image={"Bytes": card}, ProjectVersion=unknown)
    expect("unknown adapter ARN: ResourceNotFoundException", c == "ResourceNotFoundException" and unknown in msg, f"{c}: {msg}")

    with open(STATE, "w") as f:
        json.dump({"project": project, "adapter": arn, "card": test[0][0]}, f)
else:
    print(f"boto3 {boto3.__version__} (botocore {botocore.__version__}): its Rekognition model has no adapters;"
          " checking what an old client sees of one")
    with open(STATE) as f:
        st = json.load(f)
    names = [p["ProjectArn"] for p in rek.describe_projects()["ProjectDescriptions"]]
    expect("describe_projects leaves the CONTENT_MODERATION project out", st["project"] not in names, names)
    pv = rek.describe_project_versions(ProjectArn=st["project"])["ProjectVersionDescriptions"]
    expect("describe_project_versions parses the adapter's description",
           len(pv) == 1 and pv[0]["ProjectVersionArn"] == st["adapter"] and pv[0]["Status"] == "TRAINING_COMPLETED", pv)
    c, msg = error(rek.start_project_version, ProjectVersionArn=st["adapter"], MinInferenceUnits=1)
    expect("start_project_version on the adapter: InvalidParameterException",
           c == "InvalidParameterException" and "Custom Moderation adapter" in msg, f"{c}: {msg}")
    r = rek.detect_moderation_labels(Image={"Bytes": open(st["card"], "rb").read()})
    expect("detect_moderation_labels without an adapter", r.get("ModerationModelVersion") == BASE and "ProjectVersion" not in r, r)

if failures:
    print(f"{len(failures)} failed", file=sys.stderr)
    sys.exit(1)
