"""boto3 against a running Ocellus (OCELLUS_URL) started with an empty
backbone directory (OCELLUS_BACKBONE_DIR): DetectModerationLabels first says
how to install the base model, then, after `ocellus backbone pull
nsfwjs-mobilenet_v2 --from lib/nsfwjs-4.4.0.tgz` (OCELLUS_BIN), answers
without a restart, for image bytes and an S3 object; bad requests get AWS's
errors."""
import glob
import os
import subprocess
import sys

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["OCELLUS_URL"]
CFG = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
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


rek, s3 = client("rekognition"), client("s3")
photo = sorted(glob.glob(os.path.join(ROOT, "..", "shared", "datasets", "playing-cards", "test", "*.JPG")))[0]
jpeg = open(photo, "rb").read()

c, msg = error(rek.detect_moderation_labels, Image={"Bytes": jpeg})
expect("not installed: ResourceNotReadyException saying how to install",
       c == "ResourceNotReadyException" and "ocellus backbone pull nsfwjs-mobilenet_v2" in msg, f"{c}: {msg}")

subprocess.run([os.environ["OCELLUS_BIN"], "backbone", "pull", "nsfwjs-mobilenet_v2",
                "--from", os.path.join(ROOT, "lib", "nsfwjs-4.4.0.tgz"), "--dir", os.environ["OCELLUS_BACKBONE_DIR"]],
               check=True, stdout=subprocess.DEVNULL)

r = rek.detect_moderation_labels(Image={"Bytes": jpeg})
expect("bytes: answered after the pull, no restart", r.get("ModerationModelVersion") == "ocellus-nsfwjs-4.4.0", r)
expect("bytes: a safe photo gets no label and no content type",
       r.get("ModerationLabels") == [] and r.get("ContentTypes") == [], r)

s3.create_bucket(Bucket="moderation")
s3.put_object(Bucket="moderation", Key="card.jpg", Body=jpeg)
r = rek.detect_moderation_labels(Image={"S3Object": {"Bucket": "moderation", "Name": "card.jpg"}}, MinConfidence=0)
names = sorted(l["Name"] for l in r["ModerationLabels"])
expect("S3 object at MinConfidence 0: the model's two top-level categories",
       names == ["Explicit", "Swimwear or Underwear"], r)
expect("labels carry ParentName '' and TaxonomyLevel 1",
       all(l["ParentName"] == "" and l["TaxonomyLevel"] == 1 for l in r["ModerationLabels"]), r)

for name, kw, want in [
    ("not an image", dict(Image={"Bytes": b"not an image"}), "InvalidImageFormatException"),
    ("missing S3 object", dict(Image={"S3Object": {"Bucket": "moderation", "Name": "nope.jpg"}}), "InvalidS3ObjectException"),
    ("MinConfidence over 100", dict(Image={"Bytes": jpeg}, MinConfidence=101), "InvalidParameterException"),
    ("an adapter ARN", dict(Image={"Bytes": jpeg},
                            ProjectVersion="arn:aws:rekognition:us-east-1:111111111111:project/m/version/a/1700000000000"),
     "ResourceNotFoundException"),
]:
    c, msg = error(rek.detect_moderation_labels, **kw)
    expect(f"{name}: {want}", c == want, f"{c}: {msg}")

if failures:
    print(f"{len(failures)} failed", file=sys.stderr)
    sys.exit(1)
