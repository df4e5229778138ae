"""boto3 against a running Ocellus (OCELLUS_URL, data dir OCELLUS_DATA):
S3 server-side encryption at rest (SSE-S3, SSE-KMS with the service key),
object tagging, and the security headers that are refused rather than
ignored (SSE-C, ACLs other than private, Object Lock). Runs with the newer
boto3 (python3) and with Debian's 1.26 (/usr/bin/python3)."""
import os
import sys
import tempfile

import boto3
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["OCELLUS_URL"]
DATA = os.environ["OCELLUS_DATA"]
CFG = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})
s3 = boto3.client("s3", endpoint_url=URL, region_name="us-east-1", aws_access_key_id="AKIDALICE",
                  aws_secret_access_key="alice-secret", config=CFG)
failures = []


def expect(name, cond):
    print(("ok   " if cond else "FAIL ") + name)
    if not cond:
        failures.append(name)


def error(fn, **kw):
    try:
        fn(**kw)
    except ClientError as e:
        return e.response["Error"]["Code"], e.response["ResponseMetadata"]["HTTPStatusCode"], e.response["Error"].get("Message", "")
    return None, 200, ""


def on_disk(needle):
    for root, _, files in os.walk(os.path.join(DATA, "s3", "data")):
        for f in files:
            with open(os.path.join(root, f), "rb") as fh:
                if needle in fh.read():
                    return True
    return False


B = "sec-%s" % boto3.__version__.replace(".", "-")
s3.create_bucket(Bucket=B, ACL="private")
plain = b"secret training manifest line that must not be on disk\n" * 4000

r = s3.put_object(Bucket=B, Key="sse-s3", Body=plain, ServerSideEncryption="AES256")
expect("PutObject SSE-S3 answers AES256", r.get("ServerSideEncryption") == "AES256")
r = s3.put_object(Bucket=B, Key="sse-kms", Body=plain, ServerSideEncryption="aws:kms")
expect("PutObject SSE-KMS answers aws:kms and a key ARN",
       r.get("ServerSideEncryption") == "aws:kms" and r.get("SSEKMSKeyId", "").startswith("arn:aws:kms:us-east-1:111111111111:key/"))
expect("encrypted objects are not plain text on disk", not on_disk(plain[:200]))
g = s3.get_object(Bucket=B, Key="sse-kms")
expect("GetObject returns the plaintext and aws:kms", g["Body"].read() == plain and g["ServerSideEncryption"] == "aws:kms")
g = s3.get_object(Bucket=B, Key="sse-s3", Range="bytes=65530-65600")
expect("range across an encrypted chunk boundary", g["Body"].read() == plain[65530:65601])
expect("HeadObject reports AES256", s3.head_object(Bucket=B, Key="sse-s3")["ServerSideEncryption"] == "AES256")
c, st, _ = error(s3.put_object, Bucket=B, Key="x", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId="no-such-key")
expect("unknown KMS key: KMS.NotFoundException 400", (c, st) == ("KMS.NotFoundException", 400))

with tempfile.NamedTemporaryFile() as f:
    f.write(os.urandom(12 << 20))
    f.flush()
    s3.upload_file(f.name, B, "mp", ExtraArgs={"ServerSideEncryption": "aws:kms", "Tagging": "kind=multipart"},
                   Config=TransferConfig(multipart_threshold=5 << 20, multipart_chunksize=5 << 20))
    h = s3.head_object(Bucket=B, Key="mp")
    f.seek(0)
    expect("multipart upload with SSE-KMS", h["ServerSideEncryption"] == "aws:kms" and h["ContentLength"] == 12 << 20
           and s3.get_object(Bucket=B, Key="mp")["Body"].read() == f.read())
r = s3.copy_object(Bucket=B, Key="copy", CopySource={"Bucket": B, "Key": "sse-s3"}, ServerSideEncryption="aws:kms")
expect("CopyObject to SSE-KMS", r.get("ServerSideEncryption") == "aws:kms"
       and s3.get_object(Bucket=B, Key="copy")["Body"].read() == plain)

# Tagging.
s3.put_object(Bucket=B, Key="tagged", Body=b"t", Tagging="team=vision&stage=raw%20data")
ts = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=B, Key="tagged")["TagSet"]}
expect("x-amz-tagging round trip", ts == {"team": "vision", "stage": "raw data"})
expect("TagCount on GET", s3.get_object(Bucket=B, Key="tagged")["TagCount"] == 2)
s3.put_object_tagging(Bucket=B, Key="tagged", Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
expect("PutObjectTagging replaces", s3.get_object_tagging(Bucket=B, Key="tagged")["TagSet"] == [{"Key": "k", "Value": "v"}])
s3.delete_object_tagging(Bucket=B, Key="tagged")
expect("DeleteObjectTagging", s3.get_object_tagging(Bucket=B, Key="tagged")["TagSet"] == [])
expect("multipart tags", s3.get_object_tagging(Bucket=B, Key="mp")["TagSet"] == [{"Key": "kind", "Value": "multipart"}])
c, st, _ = error(s3.put_object_tagging, Bucket=B, Key="tagged", Tagging={"TagSet": [{"Key": "k" * 129, "Value": "v"}]})
expect("tag key over 128 characters: InvalidTag", (c, st) == ("InvalidTag", 400))
c, _, _ = error(s3.put_object_tagging, Bucket=B, Key="tagged",
                Tagging={"TagSet": [{"Key": "k%d" % i, "Value": "v"} for i in range(11)]})
expect("11 tags refused", c == "BadRequest")

# Refused, never ignored; nothing is stored.
key = os.urandom(32)
for name, kw, want in [
    ("SSE-C", dict(SSECustomerAlgorithm="AES256", SSECustomerKey=key), ("NotImplemented", 501, "x-amz-server-side-encryption-customer-")),
    ("aws:kms:dsse", dict(ServerSideEncryption="aws:kms:dsse"), ("NotImplemented", 501, "x-amz-server-side-encryption")),
    ("ACL public-read", dict(ACL="public-read"), ("AccessControlListNotSupported", 400, "x-amz-acl")),
    ("grant-read", dict(GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"'), ("AccessControlListNotSupported", 400, "x-amz-grant-read")),
    ("Object Lock legal hold", dict(ObjectLockLegalHoldStatus="ON"), ("NotImplemented", 501, "x-amz-object-lock-legal-hold")),
]:
    c, st, msg = error(s3.put_object, Bucket=B, Key="refused", Body=b"x", **kw)
    expect("PutObject %s refused: %s %d naming %s" % (name, want[0], want[1], want[2]), (c, st) == want[:2] and want[2] in msg)
expect("refused requests stored nothing", error(s3.head_object, Bucket=B, Key="refused")[1] == 404)
c, st, msg = error(s3.create_bucket, Bucket=B + "-lock", ObjectLockEnabledForBucket=True)
expect("CreateBucket with Object Lock refused 501", (c, st) == ("NotImplemented", 501) and "x-amz-bucket-object-lock-enabled" in msg)
s3.put_object(Bucket=B, Key="private", Body=b"p", ACL="private")
expect("canned ACL private accepted", s3.head_object(Bucket=B, Key="private")["ContentLength"] == 1)

print("%d failed" % len(failures))
sys.exit(1 if failures else 0)
