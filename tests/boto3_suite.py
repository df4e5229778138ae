"""boto3 against a running Ocellus (OCELLUS_URL): S3 transfers, Custom
Labels projects, pagination, tags, policies, errors and account isolation."""
import filecmp
import os
import sys
import tempfile

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["OCELLUS_URL"]
CFG = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def client(service, key="AKIDALICE", secret="alice-secret"):
    return boto3.client(service, endpoint_url=URL, region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret, config=CFG)


def code(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


failures = []


def expect(name, cond):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures.append(name)


s3 = client("s3")
s3.create_bucket(Bucket="boto-bucket")
with tempfile.TemporaryDirectory() as d:
    src, dst = os.path.join(d, "src.bin"), os.path.join(d, "dst.bin")
    with open(src, "wb") as f:
        f.write(os.urandom(12 * 1024 * 1024))
    s3.upload_file(src, "boto-bucket", "data/src.bin")  # multipart above 8 MB
    s3.download_file("boto-bucket", "data/src.bin", dst)
    expect("boto3 upload_file/download_file byte-identical", filecmp.cmp(src, dst, shallow=False))

rek = client("rekognition")
bob = client("rekognition", "AKIDBOB", "bob-secret")
arns = [rek.create_project(ProjectName=f"boto-{i}")["ProjectArn"] for i in range(7)]
pages = list(rek.get_paginator("describe_projects").paginate(PaginationConfig={"PageSize": 3}))
names = {p["ProjectArn"] for page in pages for p in page["ProjectDescriptions"]}
expect("describe_projects paginator sees all projects", set(arns) <= names and len(pages) >= 3)
expect("CreationTimestamp parsed as datetime",
       hasattr(pages[0]["ProjectDescriptions"][0]["CreationTimestamp"], "year"))
expect("duplicate name -> ResourceInUseException",
       code(rek.create_project, ProjectName="boto-0") == "ResourceInUseException")
expect("bad pattern -> InvalidParameterException",
       code(rek.create_project, ProjectName="no spaces") == "InvalidParameterException")
expect("MaxResults 101 -> InvalidParameterException",
       code(rek.describe_projects, MaxResults=101) == "InvalidParameterException")
expect("list_project_policies MaxResults 6 -> InvalidParameterException",
       code(rek.list_project_policies, ProjectArn=arns[0], MaxResults=6) == "InvalidParameterException")
expect("bob cannot delete alice's project",
       code(bob.delete_project, ProjectArn=arns[0]) == "AccessDeniedException")
expect("bob does not see alice's projects",
       not any(p["ProjectArn"] in arns for p in bob.describe_projects()["ProjectDescriptions"]))
rek.tag_resource(ResourceArn=arns[0], Tags={"a": "1", "b": "2"})
rek.untag_resource(ResourceArn=arns[0], TagKeys=["a"])
expect("tags", rek.list_tags_for_resource(ResourceArn=arns[0])["Tags"] == {"b": "2"})
doc = '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"rekognition:*","Resource":"*"}]}'
rev = rek.put_project_policy(ProjectArn=arns[0], PolicyName="p", PolicyDocument=doc)["PolicyRevisionId"]
expect("stale revision -> InvalidPolicyRevisionIdException",
       code(rek.put_project_policy, ProjectArn=arns[0], PolicyName="p", PolicyDocument=doc,
            PolicyRevisionId="0" * 32) == "InvalidPolicyRevisionIdException")
rek.delete_project_policy(ProjectArn=arns[0], PolicyName="p", PolicyRevisionId=rev)
for a in arns:
    rek.delete_project(ProjectArn=a)
expect("deleted projects gone",
       not any(p["ProjectArn"] in arns for p in rek.describe_projects()["ProjectDescriptions"]))
wrong = client("rekognition", "AKIDALICE", "wrong")
expect("wrong secret -> InvalidSignatureException",
       code(wrong.describe_projects) == "InvalidSignatureException")
expect("unknown key -> UnrecognizedClientException",
       code(client("rekognition", "AKIDNOBODY", "x").describe_projects) == "UnrecognizedClientException")

print(f"boto3: {len(failures)} failures")
sys.exit(1 if failures else 0)
