"""S3 conformance checks (issue 10) against a running Ocellus (OCELLUS_URL),
run with both boto3 1.43 (python3) and Debian's boto3 1.26 / botocore 1.29
(/usr/bin/python3), since some of them differ by client: metadata names,
version markers, repeated and conditional completes, encoding-type=url,
listing edge cases, presign expiry, an unknown Expect, transfer-encoding signing and the
refusal of services Ocellus does not serve."""
import os
import sys
import urllib.error
import urllib.request
import uuid

import boto3
import botocore
from botocore.config import Config
from botocore.exceptions import ClientError

URL = os.environ["OCELLUS_URL"]
CFG = Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"})


def client(service):
    return boto3.client(service, endpoint_url=URL, region_name="us-east-1",
                        aws_access_key_id="AKIDALICE", aws_secret_access_key="alice-secret", config=CFG)


def code(fn, *a, **kw):
    try:
        fn(*a, **kw)
    except ClientError as e:
        return e.response["Error"]["Code"]
    return None


failures = []


def expect(name, cond, detail=""):
    print(("ok   " if cond else "FAIL ") + name + ("" if cond else "  " + str(detail)))
    if not cond:
        failures.append(name)


def with_headers(c, op, headers):
    """Adds raw headers to one operation (old botocore lacks IfNoneMatch...)."""
    def add(request, **_):
        for k, v in headers.items():
            request.headers[k] = v
    c.meta.events.register("before-sign.s3." + op, add)
    return lambda: c.meta.events.unregister("before-sign.s3." + op, add)


print("botocore", botocore.__version__)
s3 = client("s3")
B = "conf-" + uuid.uuid4().hex[:12]
s3.create_bucket(Bucket=B)
expect("re-create own bucket in us-east-1 is 200", code(s3.create_bucket, Bucket=B) is None)

# User metadata names come back lower-case.
s3.put_object(Bucket=B, Key="m", Body=b"x", Metadata={"Meta1": "v"})
got = s3.head_object(Bucket=B, Key="m")["Metadata"]
expect("PutObject metadata lower-case", got == {"meta1": "v"}, got)
s3.copy_object(Bucket=B, Key="m-copy", CopySource={"Bucket": B, "Key": "m"})
got = s3.head_object(Bucket=B, Key="m-copy")["Metadata"]
expect("CopyObject COPY metadata lower-case", got == {"meta1": "v"}, got)
s3.copy_object(Bucket=B, Key="m-rep", CopySource={"Bucket": B, "Key": "m"}, MetadataDirective="REPLACE", Metadata={"Meta2": "w"})
got = s3.head_object(Bucket=B, Key="m-rep")["Metadata"]
expect("CopyObject REPLACE metadata lower-case", got == {"meta2": "w"}, got)
up = s3.create_multipart_upload(Bucket=B, Key="mp", Metadata={"Meta1": "v"})
p = s3.upload_part(Bucket=B, Key="mp", UploadId=up["UploadId"], PartNumber=1, Body=b"part")
parts = {"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]}
first = s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=up["UploadId"], MultipartUpload=parts)
got = s3.head_object(Bucket=B, Key="mp")["Metadata"]
expect("multipart metadata lower-case", got == {"meta1": "v"}, got)
again = s3.complete_multipart_upload(Bucket=B, Key="mp", UploadId=up["UploadId"], MultipartUpload=parts)
expect("repeated CompleteMultipartUpload: 200, same ETag", again["ETag"] == first["ETag"])

# Conditional writes.
undo = with_headers(s3, "PutObject", {"If-None-Match": "*"})
expect("PutObject If-None-Match: * on an existing key: 412", code(s3.put_object, Bucket=B, Key="m", Body=b"y") == "PreconditionFailed")
undo()
undo = with_headers(s3, "PutObject", {"If-Match": '"00000000000000000000000000000000"'})
expect("PutObject If-Match wrong ETag: 412", code(s3.put_object, Bucket=B, Key="m", Body=b"y") == "PreconditionFailed")
undo()
up = s3.create_multipart_upload(Bucket=B, Key="m")
p = s3.upload_part(Bucket=B, Key="m", UploadId=up["UploadId"], PartNumber=1, Body=b"part")
undo = with_headers(s3, "CompleteMultipartUpload", {"If-None-Match": "*"})
expect("CompleteMultipartUpload If-None-Match: *: 412", code(s3.complete_multipart_upload, Bucket=B, Key="m", UploadId=up["UploadId"],
       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p["ETag"]}]}) == "PreconditionFailed")
undo()
expect("object untouched by failed conditional writes", s3.get_object(Bucket=B, Key="m")["Body"].read() == b"x")

# An expectation S3 does not know is ignored (Go's net/http alone answers 417).
undo = with_headers(s3, "PutObject", {"Expect": "200"})
expect("PutObject with Expect: 200 is stored", code(s3.put_object, Bucket=B, Key="exp", Body=b"e") is None
       and s3.get_object(Bucket=B, Key="exp")["Body"].read() == b"e")
undo()

# Content-Encoding kept as sent; UploadPartCopy past the end.
s3.put_object(Bucket=B, Key="ce", Body=b"x", ContentEncoding="deflate, gzip")
got = s3.head_object(Bucket=B, Key="ce").get("ContentEncoding")
expect("Content-Encoding kept as sent", got == "deflate, gzip", got)
up = s3.create_multipart_upload(Bucket=B, Key="upc")
expect("UploadPartCopy range past the end: InvalidRange", code(s3.upload_part_copy, Bucket=B, Key="upc", UploadId=up["UploadId"], PartNumber=1,
       CopySource={"Bucket": B, "Key": "ce"}, CopySourceRange="bytes=0-5") == "InvalidRange")

# Listing: encoding-type=url (boto3 asks for it and decodes), max-keys=0.
s3.put_object(Bucket=B, Key="quux ab/x+y", Body=b"1")
r = s3.list_objects_v2(Bucket=B, Prefix="quux ", Delimiter="/")
expect("v2 common prefix decoded", [c["Prefix"] for c in r.get("CommonPrefixes", [])] == ["quux ab/"], r.get("CommonPrefixes"))
r = s3.list_objects(Bucket=B, Prefix="quux ")
expect("v1 prefix and key decoded", r.get("Prefix") == "quux " and [c["Key"] for c in r.get("Contents", [])] == ["quux ab/x+y"], (r.get("Prefix"), r.get("Contents")))
r = s3.list_objects_v2(Bucket=B, MaxKeys=0)
expect("max-keys=0 not truncated", r["IsTruncated"] is False)

# ListObjectVersions: list-then-delete with markers of deleted versions.
V = B + "-v"
s3.create_bucket(Bucket=V)
s3.put_bucket_versioning(Bucket=V, VersioningConfiguration={"Status": "Enabled"})
for i in range(3):
    for k in ("k", "l"):
        s3.put_object(Bucket=V, Key=k, Body=bytes([i]))
seen, kw = [], {}
for _ in range(10):
    r = s3.list_object_versions(Bucket=V, MaxKeys=2, **kw)
    for v in r.get("Versions", []):
        seen.append(v["Key"])
        s3.delete_object(Bucket=V, Key=v["Key"], VersionId=v["VersionId"])
    if not r["IsTruncated"]:
        break
    kw = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
expect("list-then-delete over versions", seen == ["k"] * 3 + ["l"] * 3, seen)

# ListBuckets paging (MaxBuckets is only in newer botocore models).
lb_input = s3.meta.service_model.operation_model("ListBuckets").input_shape
if lb_input is not None and "MaxBuckets" in lb_input.members:
    r = s3.list_buckets(MaxBuckets=1, Prefix=B)
    expect("ListBuckets max-buckets", len(r["Buckets"]) == 1 and "ContinuationToken" in r, r)

# Presigned URL with X-Amz-Expires out of range: 403 AccessDenied.
signer = boto3.client("s3", endpoint_url=URL, region_name="us-east-1", aws_access_key_id="AKIDALICE", aws_secret_access_key="alice-secret",
                      config=Config(signature_version="s3v4", s3={"addressing_style": "path"}))
u = signer.generate_presigned_url("get_object", Params={"Bucket": B, "Key": "m"}, ExpiresIn=604801)
try:
    urllib.request.urlopen(u)
    status, body = 200, b""
except urllib.error.HTTPError as e:
    status, body = e.code, e.read()
expect("presign X-Amz-Expires > 604800: 403 AccessDenied", status == 403 and b"AccessDenied" in body, (status, body[:200]))


# A chunked body whose Transfer-Encoding is signed, as botocore 1.29 signs
# every header but expect/user-agent (newer botocore leaves it out).
def put_chunked(key, data):
    import http.client
    from urllib.parse import urlparse
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    req = AWSRequest(method="PUT", url=URL + "/" + B + "/" + key, data=data, headers={"Transfer-Encoding": "chunked"})
    S3SigV4Auth(Credentials("AKIDALICE", "alice-secret"), "s3", "us-east-1").add_auth(req)
    signed = req.headers.get("Authorization", "")
    u = urlparse(URL)
    conn = http.client.HTTPConnection(u.hostname, u.port)
    conn.putrequest("PUT", "/" + B + "/" + key, skip_accept_encoding=True)
    for k, v in req.headers.items():
        conn.putheader(k, v)
    conn.endheaders()
    conn.send(b"%x\r\n%s\r\n0\r\n\r\n" % (len(data), data))
    resp = conn.getresponse()
    body = resp.read()
    conn.close()
    return signed, resp.status, body


signed, status, body = put_chunked("chunked", b"chunked body")
old_signer = tuple(int(x) for x in botocore.__version__.split(".")[:2]) < (1, 30)
expect("chunked PUT (transfer-encoding signed by botocore 1.29)", ("transfer-encoding" in signed) == old_signer and status == 200 and
       s3.get_object(Bucket=B, Key="chunked")["Body"].read() == b"chunked body", (signed, status, body[:200]))

# Services Ocellus does not serve are refused in their own shape.
expect("sts refused (XML InvalidAction)", code(client("sts").get_caller_identity) == "InvalidAction")
expect("dynamodb refused (JSON UnknownOperationException)", code(client("dynamodb").list_tables) == "UnknownOperationException")

if failures:
    print("failures:", failures)
    sys.exit(1)
