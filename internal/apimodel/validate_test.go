package apimodel

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// decode parses a JSON body the way the front-ends do.
func decode(t *testing.T, body string) map[string]any {
	t.Helper()
	in, err := DecodeJSON([]byte(body))
	if err != nil {
		t.Fatalf("DecodeJSON(%s): %v", body, err)
	}
	return in
}

const (
	projectArn = "arn:aws:rekognition:us-east-1:123456789012:project/p1/1690405809285"
	versionArn = "arn:aws:rekognition:us-east-1:123456789012:project/p1/version/v1/1690556751958"
	datasetArn = "arn:aws:rekognition:us-east-1:123456789012:project/p1/dataset/train/1690556751958"
)

func TestValidate(t *testing.T) {
	long := strings.Repeat("a", 256)
	tests := []struct {
		name   string
		svc    *Service
		op     string
		body   string
		kind   Kind   // 0: valid
		msg    string // exact Error() text, "" to skip the check
		member string
		path   string
	}{
		{name: "CreateProject ok", svc: Rekognition, op: "CreateProject",
			body: `{"ProjectName":"my-project.v1_2","Feature":"CUSTOM_LABELS","AutoUpdate":"ENABLED","Tags":{"team":"vision"}}`},
		{name: "CreateProject missing name", svc: Rekognition, op: "CreateProject", body: `{}`, kind: Validation,
			msg:    "1 validation error detected: Value null at 'projectName' failed to satisfy constraint: Member must not be null",
			member: "ProjectName", path: "projectName"},
		{name: "CreateProject explicit null", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":null}`, kind: Validation,
			msg: "1 validation error detected: Value null at 'projectName' failed to satisfy constraint: Member must not be null"},
		{name: "CreateProject name too long", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":"` + long + `"}`, kind: Validation,
			msg: "1 validation error detected: Value '" + long + "' at 'projectName' failed to satisfy constraint: Member must have length less than or equal to 255"},
		{name: "CreateProject 255 multibyte code points ok", svc: Rekognition, op: "CreateProject",
			body: `{"ProjectName":"` + strings.Repeat("a", 255) + `"}`},
		{name: "CreateProject empty name", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":""}`, kind: Validation,
			msg: "2 validation errors detected: Value '' at 'projectName' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value '' at 'projectName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+"},
		{name: "CreateProject bad pattern", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":"a b"}`, kind: Validation,
			msg: `1 validation error detected: Value 'a b' at 'projectName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-]+`},
		{name: "CreateProject enum", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":"p","Feature":"FACES"}`, kind: Validation,
			msg:    "1 validation error detected: Value 'FACES' at 'feature' failed to satisfy constraint: Member must satisfy enum value set: [CONTENT_MODERATION, CUSTOM_LABELS]",
			member: "Feature", path: "feature"},
		{name: "CreateProject several errors in model order", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":"a b","Feature":"FACES"}`, kind: Validation,
			msg: "2 validation errors detected: Value 'a b' at 'projectName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9_.\\-]+; " +
				"Value 'FACES' at 'feature' failed to satisfy constraint: Member must satisfy enum value set: [CONTENT_MODERATION, CUSTOM_LABELS]",
			member: "ProjectName"},
		{name: "CreateProject name is a number", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":12}`, kind: Serialization,
			msg: "NUMBER_VALUE can not be converted to a String", member: "ProjectName"},
		{name: "CreateProject tag key aws: prefix", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":"p","Tags":{"aws:x":"v"}}`, kind: Validation,
			msg: `1 validation error detected: Value '{aws:x=v}' at 'tags' failed to satisfy constraint: Map keys must satisfy constraint: [Member must satisfy regular expression pattern: ^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]*$]`},
		{name: "CreateProject tags is a list", svc: Rekognition, op: "CreateProject", body: `{"ProjectName":"p","Tags":["a"]}`, kind: Serialization,
			msg: "Start of list found where not expected"},
		{name: "DescribeProjects MaxResults 0", svc: Rekognition, op: "DescribeProjects", body: `{"MaxResults":0}`, kind: Validation,
			msg: "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{name: "DescribeProjects MaxResults 101", svc: Rekognition, op: "DescribeProjects", body: `{"MaxResults":101}`, kind: Validation,
			msg: "1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100"},
		{name: "DescribeProjects MaxResults 100", svc: Rekognition, op: "DescribeProjects", body: `{"MaxResults":100}`},
		{name: "DescribeProjects MaxResults 0.0", svc: Rekognition, op: "DescribeProjects", body: `{"MaxResults":0.0}`, kind: Validation,
			msg: "1 validation error detected: Value '0' at 'maxResults' failed to satisfy constraint: Member must have value greater than or equal to 1"},
		{name: "DescribeProjects MaxResults string", svc: Rekognition, op: "DescribeProjects", body: `{"MaxResults":"10"}`, kind: Serialization,
			msg: "STRING_VALUE can not be converted to an Integer", member: "MaxResults", path: "maxResults"},
		{name: "DescribeProjects MaxResults fraction", svc: Rekognition, op: "DescribeProjects", body: `{"MaxResults":1.5}`, kind: Serialization},
		{name: "DescribeProjects MaxResults overflow", svc: Rekognition, op: "DescribeProjects", body: `{"MaxResults":4294967296}`, kind: Serialization},
		{name: "DescribeProjects names object", svc: Rekognition, op: "DescribeProjects", body: `{"ProjectNames":{"a":1}}`, kind: Serialization,
			msg: "Start of structure or map found where not expected."},
		{name: "DescribeProjects too many names", svc: Rekognition, op: "DescribeProjects",
			body: `{"ProjectNames":["a","b","c","d","e","f","g","h","i","j","k"]}`, kind: Validation,
			msg: "1 validation error detected: Value '[a, b, c, d, e, f, g, h, i, j, k]' at 'projectNames' failed to satisfy constraint: Member must have length less than or equal to 10"},
		{name: "DescribeProjects bad name element", svc: Rekognition, op: "DescribeProjects", body: `{"ProjectNames":["ok","a b",""]}`, kind: Validation,
			msg: `1 validation error detected: Value '[ok, a b, ]' at 'projectNames' failed to satisfy constraint: Member must satisfy constraint: [Member must satisfy regular expression pattern: [a-zA-Z0-9_.\-]+, Member must have length greater than or equal to 1]`},
		{name: "ListProjectPolicies MaxResults 6", svc: Rekognition, op: "ListProjectPolicies", body: `{"ProjectArn":"` + projectArn + `","MaxResults":6}`, kind: Validation,
			msg: "1 validation error detected: Value '6' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 5"},
		{name: "ListProjectPolicies ok", svc: Rekognition, op: "ListProjectPolicies", body: `{"ProjectArn":"` + projectArn + `","MaxResults":5}`},
		{name: "DeleteProject bad arn", svc: Rekognition, op: "DeleteProject", body: `{"ProjectArn":"arn:aws:rekognition:us-east-1:1234:project/p1/1"}`, kind: Validation,
			msg: `1 validation error detected: Value 'arn:aws:rekognition:us-east-1:1234:project/p1/1' at 'projectArn' failed to satisfy constraint: Member must satisfy regular expression pattern: (^arn:[a-z\d-]+:rekognition:[a-z\d-]+:\d{12}:project\/[a-zA-Z0-9_.\-]{1,255}\/[0-9]+$)`},
		{name: "DetectCustomLabels ok bytes", svc: Rekognition, op: "DetectCustomLabels",
			body: `{"ProjectVersionArn":"` + versionArn + `","Image":{"Bytes":"aGVsbG8="},"MinConfidence":55.5,"MaxResults":3}`},
		{name: "DetectCustomLabels nested bucket too short", svc: Rekognition, op: "DetectCustomLabels",
			body: `{"ProjectVersionArn":"` + versionArn + `","Image":{"S3Object":{"Bucket":"ab","Name":"x.jpg"}}}`, kind: Validation,
			msg:    "1 validation error detected: Value 'ab' at 'image.s3Object.bucket' failed to satisfy constraint: Member must have length greater than or equal to 3",
			member: "Image", path: "image.s3Object.bucket"},
		{name: "DetectCustomLabels missing both", svc: Rekognition, op: "DetectCustomLabels", body: `{}`, kind: Validation,
			msg: "2 validation errors detected: Value null at 'projectVersionArn' failed to satisfy constraint: Member must not be null; " +
				"Value null at 'image' failed to satisfy constraint: Member must not be null",
			member: "ProjectVersionArn"},
		{name: "DetectCustomLabels MinConfidence float max", svc: Rekognition, op: "DetectCustomLabels",
			body: `{"ProjectVersionArn":"` + versionArn + `","Image":{"Bytes":"aGVsbG8="},"MinConfidence":101}`, kind: Validation,
			msg: "1 validation error detected: Value '101.0' at 'minConfidence' failed to satisfy constraint: Member must have value less than or equal to 100"},
		{name: "DetectCustomLabels MinConfidence fraction", svc: Rekognition, op: "DetectCustomLabels",
			body: `{"ProjectVersionArn":"` + versionArn + `","Image":{"Bytes":"aGVsbG8="},"MinConfidence":100.5}`, kind: Validation,
			msg: "1 validation error detected: Value '100.5' at 'minConfidence' failed to satisfy constraint: Member must have value less than or equal to 100"},
		{name: "DetectCustomLabels bad base64", svc: Rekognition, op: "DetectCustomLabels",
			body: `{"ProjectVersionArn":"` + versionArn + `","Image":{"Bytes":"!!notbase64"}}`, kind: Serialization,
			msg: "Base64 encoded value at 'image.bytes' is invalid", member: "Image", path: "image.bytes"},
		{name: "DetectCustomLabels empty blob", svc: Rekognition, op: "DetectCustomLabels",
			body: `{"ProjectVersionArn":"` + versionArn + `","Image":{"Bytes":""}}`, kind: Validation,
			msg: "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=0 cap=0]' at 'image.bytes' failed to satisfy constraint: Member must have length greater than or equal to 1"},
		{name: "DetectCustomLabels image is a string", svc: Rekognition, op: "DetectCustomLabels",
			body: `{"ProjectVersionArn":"` + versionArn + `","Image":"x"}`, kind: Serialization,
			msg: "Expected start of structure or map, found STRING_VALUE"},
		{name: "DistributeDatasetEntries one dataset", svc: Rekognition, op: "DistributeDatasetEntries",
			body: `{"Datasets":[{"Arn":"` + datasetArn + `"}]}`, kind: Validation,
			msg: "1 validation error detected: Value '[{Arn=" + datasetArn + "}]' at 'datasets' failed to satisfy constraint: Member must have length greater than or equal to 2"},
		{name: "DistributeDatasetEntries element path", svc: Rekognition, op: "DistributeDatasetEntries",
			body: `{"Datasets":[{"Arn":"` + datasetArn + `"},{}]}`, kind: Validation,
			msg:  "1 validation error detected: Value null at 'datasets.2.member.arn' failed to satisfy constraint: Member must not be null",
			path: "datasets.2.member.arn", member: "Datasets"},
		{name: "UpdateDatasetEntries timestamp-free blob ok", svc: Rekognition, op: "UpdateDatasetEntries",
			body: `{"DatasetArn":"` + datasetArn + `","Changes":{"GroundTruth":"eyJhIjoxfQ=="}}`},
		{name: "UpdateDatasetEntries missing nested required", svc: Rekognition, op: "UpdateDatasetEntries",
			body: `{"DatasetArn":"` + datasetArn + `","Changes":{}}`, kind: Validation,
			msg: "1 validation error detected: Value null at 'changes.groundTruth' failed to satisfy constraint: Member must not be null"},
		{name: "unknown members ignored", svc: Rekognition, op: "DescribeProjects", body: `{"Bogus":{"x":[1,2]},"MaxResults":5}`},
		{name: "L4V CreateProject name with dot", svc: LookoutVision, op: "CreateProject", body: `{"ProjectName":"a.b"}`, kind: Validation,
			msg: `1 validation error detected: Value 'a.b' at 'projectName' failed to satisfy constraint: Member must satisfy regular expression pattern: [a-zA-Z0-9][a-zA-Z0-9_\-]*`},
		{name: "L4V TagResource tag element", svc: LookoutVision, op: "TagResource",
			body: `{"ResourceArn":"arn:aws:lookoutvision:us-east-1:123456789012:project/p1","Tags":[{"Key":"k","Value":"v"},{"Key":""}]}`, kind: Validation,
			msg: "2 validation errors detected: Value '' at 'tags.2.member.key' failed to satisfy constraint: Member must have length greater than or equal to 1; " +
				"Value null at 'tags.2.member.value' failed to satisfy constraint: Member must not be null"},
		{name: "L4V ListDatasetEntries timestamp string", svc: LookoutVision, op: "ListDatasetEntries",
			body: `{"ProjectName":"p","DatasetType":"train","BeforeCreationDate":"2021-01-01T00:00:00Z"}`, kind: Serialization,
			msg: "STRING_VALUE can not be converted to a Timestamp"},
		{name: "L4V ListDatasetEntries timestamp number", svc: LookoutVision, op: "ListDatasetEntries",
			body: `{"ProjectName":"p","DatasetType":"train","BeforeCreationDate":1609459200.5}`},
		{name: "L4V StartModel bool as string", svc: LookoutVision, op: "ListDatasetEntries",
			body: `{"ProjectName":"p","DatasetType":"train","Labeled":"true"}`, kind: Serialization,
			msg: "STRING_VALUE can not be converted to a Boolean"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.svc.Validate(tc.op, decode(t, tc.body))
			if tc.kind == 0 {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var ve *ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want *ValidationError", err)
			}
			if ve.Kind != tc.kind {
				t.Errorf("Kind = %v, want %v (%v)", ve.Kind, tc.kind, err)
			}
			if tc.msg != "" && err.Error() != tc.msg {
				t.Errorf("message\n got: %s\nwant: %s", err.Error(), tc.msg)
			}
			if tc.member != "" && ve.Member != tc.member {
				t.Errorf("Member = %q, want %q", ve.Member, tc.member)
			}
			if tc.path != "" && ve.Path != tc.path {
				t.Errorf("Path = %q, want %q", ve.Path, tc.path)
			}
		})
	}
}

func TestValidateFloat64AndBytes(t *testing.T) {
	// Plain json.Unmarshal gives float64; DecodeRest gives []byte blobs.
	var in map[string]any
	if err := json.Unmarshal([]byte(`{"MaxResults":101}`), &in); err != nil {
		t.Fatal(err)
	}
	err := Rekognition.Validate("DescribeProjects", in)
	if err == nil || !strings.Contains(err.Error(), "Value '101' at 'maxResults'") {
		t.Fatalf("float64 input: %v", err)
	}
	ok := map[string]any{"ProjectVersionArn": versionArn, "Image": map[string]any{"Bytes": []byte{1, 2, 3}}}
	if err := Rekognition.Validate("DetectCustomLabels", ok); err != nil {
		t.Fatalf("[]byte blob: %v", err)
	}
	big := map[string]any{"ProjectVersionArn": versionArn, "Image": map[string]any{"Bytes": make([]byte, 5242881)}}
	err = Rekognition.Validate("DetectCustomLabels", big)
	want := "1 validation error detected: Value 'java.nio.HeapByteBuffer[pos=0 lim=5242881 cap=5242881]' at 'image.bytes' failed to satisfy constraint: Member must have length less than or equal to 5242880"
	if err == nil || err.Error() != want {
		t.Fatalf("big blob: %v", err)
	}
}

func TestValidateCodePoints(t *testing.T) {
	// 255 code points of 3 bytes each is 765 bytes: still a valid length.
	// (The pattern rejects it, which is the only violation expected.)
	name := strings.Repeat("é", 255)
	err := Rekognition.Validate("CreateProject", map[string]any{"ProjectName": name})
	var ve *ValidationError
	if !errors.As(err, &ve) || len(ve.Violations) != 1 || !strings.Contains(ve.Violations[0], "regular expression") {
		t.Fatalf("got %v", err)
	}
	// L4V tag values allow \p{L}: 257 code points break only the max length.
	err = LookoutVision.Validate("TagResource", map[string]any{
		"ResourceArn": "arn:aws:lookoutvision:us-east-1:123456789012:project/p1",
		"Tags":        []any{map[string]any{"Key": "k", "Value": strings.Repeat("é", 257)}},
	})
	if !errors.As(err, &ve) || len(ve.Violations) != 1 || !strings.HasSuffix(ve.Violations[0], "Member must have length less than or equal to 256") {
		t.Fatalf("got %v", err)
	}
	err = LookoutVision.Validate("TagResource", map[string]any{
		"ResourceArn": "arn:aws:lookoutvision:us-east-1:123456789012:project/p1",
		"Tags":        []any{map[string]any{"Key": "k", "Value": strings.Repeat("é", 256)}},
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestValidateUnknownOperation(t *testing.T) {
	err := Rekognition.Validate("DetectFaces", map[string]any{})
	var ve *ValidationError
	if err == nil || errors.As(err, &ve) {
		t.Fatalf("got %v, want a plain error", err)
	}
}

func TestDecodeJSONErrors(t *testing.T) {
	for _, body := range []string{``, `{`, `[]`, `"x"`, `{} {}`, `{"a":1,}`} {
		_, err := DecodeJSON([]byte(body))
		var ve *ValidationError
		if !errors.As(err, &ve) || ve.Kind != Serialization {
			t.Errorf("DecodeJSON(%q) = %v, want Serialization", body, err)
		}
	}
}

// TestPatterns compiles every pattern of both models. The translator handles
// everything the current models use, so none is skipped; if a model update
// brings a pattern RE2 cannot run, this test names it (document it in
// pattern.go and raise the expected count).
func TestPatterns(t *testing.T) {
	const wantSkipped = 0
	for _, s := range []*Service{Rekognition, LookoutVision} {
		if got := s.SkippedPatterns(); len(got) != wantSkipped {
			t.Errorf("%s: %d patterns skipped, want %d: %v", s.ID, len(got), wantSkipped, got)
		}
	}
	tests := []struct {
		java  string
		match []string
		no    []string
	}{
		{`[a-zA-Z0-9_.\-]+`, []string{"a.b-c_d"}, []string{"", "a b", "a/b"}},
		{`^(?!aws:)[\p{L}\p{Z}\p{N}_.:/=+\-@]*$`, []string{"", "team", "x aws:", "é"}, []string{"aws:x", "a#b"}},
		{`[\u0009\u000A\u000D\u0020-\u00FF]+`, []string{"{\"a\":\t1}\n"}, []string{"\x01", "€"}},
		{`^[A-Za-z0-9][A-Za-z0-9:_/+=,@.-]{0,2048}$`, []string{"k", "arn:aws:kms:x"}, []string{"-k"}},
		{`train|test`, []string{"train", "test"}, []string{"trainx", "xtest"}},
		{`\#[a-zA-Z0-9]{6}`, []string{"#ff00AA"}, []string{"ff00AA", "#ff00AA0"}},
		{`[a-zA-Z0-9-_. ()':,;?]+`, []string{"My model (v2): ok?"}, []string{"a\"b"}},
	}
	for _, tc := range tests {
		p, err := compilePattern(tc.java)
		if err != nil {
			t.Errorf("%s: %v", tc.java, err)
			continue
		}
		for _, s := range tc.match {
			if !p.match(s) {
				t.Errorf("%s should match %q", tc.java, s)
			}
		}
		for _, s := range tc.no {
			if p.match(s) {
				t.Errorf("%s should not match %q", tc.java, s)
			}
		}
	}
	if _, err := compilePattern(`(?<=a)b`); err == nil {
		t.Error("lookbehind should not compile")
	}
}

func TestErrorStatus(t *testing.T) {
	for code, want := range map[string]int{
		"ValidationException": 400, "ServiceQuotaExceededException": 402, "AccessDeniedException": 403,
		"ResourceNotFoundException": 404, "ConflictException": 409, "ThrottlingException": 429,
		"InternalServerException": 500, "Nope": 0, "ProjectName": 0,
	} {
		if got := LookoutVision.ErrorStatus(code); got != want {
			t.Errorf("LookoutVision.ErrorStatus(%s) = %d, want %d", code, got, want)
		}
	}
	if got := Rekognition.ErrorStatus("InternalServerError"); got != 500 {
		t.Errorf("Rekognition InternalServerError = %d", got)
	}
	if got := Rekognition.ErrorStatus("InvalidParameterException"); got != 400 {
		t.Errorf("Rekognition InvalidParameterException = %d", got)
	}
}

func TestModelSubset(t *testing.T) {
	if n := len(Rekognition.Operations); n != 24 { // 23 Custom Labels + DetectModerationLabels
		t.Errorf("Rekognition has %d operations, want 24", n)
	}
	if n := len(LookoutVision.Operations); n != 22 {
		t.Errorf("LookoutVision has %d operations, want 22", n)
	}
	if _, ok := Rekognition.Operation("DetectFaces"); ok {
		t.Error("DetectFaces should not be in the Custom Labels subset")
	}
	op, ok := LookoutVision.Operation("CreateDataset")
	if !ok || op.ResponseCode != 202 || op.Method != "POST" {
		t.Errorf("CreateDataset = %+v", op)
	}
	for _, s := range []*Service{Rekognition, LookoutVision} {
		for _, op := range s.Operations {
			for _, n := range append([]string{op.Input, op.Output}, op.Errors...) {
				if _, ok := s.Shapes[n]; n != "" && !ok {
					t.Errorf("%s.%s: missing shape %s", s.ID, op.Name, n)
				}
			}
		}
	}
}

func TestRenderFloat(t *testing.T) {
	for f, want := range map[float64]string{101: "101.0", 0.5: "0.5", -2.25: "-2.25", 1e8: "1.0E8", 1.5e-5: "1.5E-5", 0: "0.0", -1e308: "-1.0E308"} {
		if got := renderFloat(f); got != want {
			t.Errorf("renderFloat(%v) = %s, want %s", f, got, want)
		}
	}
}

// TestConcurrentUse checks that the lazily compiled patterns and routes are
// safe to build from many requests at once (run with -race).
func TestConcurrentUse(t *testing.T) {
	s := &Service{ID: "Copy", Operations: LookoutVision.Operations, Shapes: LookoutVision.Shapes}
	done := make(chan bool)
	for i := 0; i < 8; i++ {
		go func() {
			defer func() { done <- true }()
			_ = s.Validate("CreateProject", map[string]any{"ProjectName": "a b"})
			_, _, _ = s.Match("GET", "/2020-11-20/projects/p1")
		}()
	}
	for i := 0; i < 8; i++ {
		<-done
	}
	if _, _, ok := s.Match("GET", "/2020-11-20/projects/p1"); !ok {
		t.Error("no match")
	}
}
