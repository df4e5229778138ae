package server_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/service/rekognition"
	rtypes "github.com/aws/aws-sdk-go-v2/service/rekognition/types"
	"github.com/aws/smithy-go"

	"github.com/ocellus/ocellus/internal/e2e"
	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/server"
)

var (
	alice = e2e.Alice
	bob   = e2e.Bob
)

func errCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	if err != nil {
		return "non-API error: " + err.Error()
	}
	return ""
}

// call sends a raw signed awsJson1.1 request, bypassing the SDK's own
// client-side checks, and returns the status and decoded body.
func call(t *testing.T, ts *e2e.Server, a ocellus.Account, op, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("POST", ts.URL+"/", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	req.Header.Set("X-Amz-Target", "RekognitionService."+op)
	sum := sha256hex(body)
	err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: a.AccessKeyID, SecretAccessKey: a.SecretAccessKey},
		req, sum, "rekognition", "us-east-1", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("%s: body %q is not JSON", op, b)
	}
	if resp.StatusCode != 200 {
		if resp.Header.Get("X-Amzn-ErrorType") != m["__type"] || resp.Header.Get("x-amzn-RequestId") == "" {
			t.Fatalf("%s: error header %q / body __type %v / request id %q disagree", op,
				resp.Header.Get("X-Amzn-ErrorType"), m["__type"], resp.Header.Get("x-amzn-RequestId"))
		}
	}
	return resp.StatusCode, m
}

func TestProjectLifecycle(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	c := ts.Rekognition(alice)

	out, err := c.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("cookies"),
		Tags: map[string]string{"team": "vision"}})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ProjectArn)
	if !strings.HasPrefix(arn, "arn:aws:rekognition:us-east-1:111111111111:project/cookies/") {
		t.Fatalf("ProjectArn = %s", arn)
	}
	_, err = c.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("cookies")})
	if errCode(err) != "ResourceInUseException" {
		t.Fatalf("duplicate CreateProject: %v", err)
	}

	d, err := c.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{ProjectNames: []string{"cookies"}})
	if err != nil || len(d.ProjectDescriptions) != 1 {
		t.Fatalf("DescribeProjects = %+v, %v", d, err)
	}
	pd := d.ProjectDescriptions[0]
	if pd.Status != rtypes.ProjectStatusCreated || pd.Feature != rtypes.CustomizationFeatureCustomLabels ||
		time.Since(aws.ToTime(pd.CreationTimestamp)) > time.Minute || aws.ToString(pd.ProjectArn) != arn {
		t.Fatalf("description = %+v", pd)
	}

	tags, err := c.ListTagsForResource(ctx, &rekognition.ListTagsForResourceInput{ResourceArn: &arn})
	if err != nil || tags.Tags["team"] != "vision" {
		t.Fatalf("tags = %v, %v", tags, err)
	}
	if _, err := c.TagResource(ctx, &rekognition.TagResourceInput{ResourceArn: &arn, Tags: map[string]string{"env": "test"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.UntagResource(ctx, &rekognition.UntagResourceInput{ResourceArn: &arn, TagKeys: []string{"team"}}); err != nil {
		t.Fatal(err)
	}
	tags, _ = c.ListTagsForResource(ctx, &rekognition.ListTagsForResourceInput{ResourceArn: &arn})
	if len(tags.Tags) != 1 || tags.Tags["env"] != "test" {
		t.Fatalf("tags after tag/untag = %v", tags.Tags)
	}
	_, err = c.TagResource(ctx, &rekognition.TagResourceInput{ResourceArn: &arn, Tags: map[string]string{"aws:x": "1"}})
	if errCode(err) != "InvalidParameterException" {
		t.Fatalf("aws: prefix: %v", err)
	}

	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"rekognition:CopyProjectVersion","Resource":"*"}]}`
	put, err := c.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String("share"), PolicyDocument: &doc})
	if err != nil || len(aws.ToString(put.PolicyRevisionId)) != 32 {
		t.Fatalf("PutProjectPolicy = %v, %v", put, err)
	}
	_, err = c.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String("share"), PolicyDocument: &doc, PolicyRevisionId: aws.String("0123456789abcdef0123456789abcdef")})
	if errCode(err) != "InvalidPolicyRevisionIdException" {
		t.Fatalf("stale revision: %v", err)
	}
	put2, err := c.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String("share"), PolicyDocument: &doc, PolicyRevisionId: put.PolicyRevisionId})
	if err != nil || aws.ToString(put2.PolicyRevisionId) == aws.ToString(put.PolicyRevisionId) {
		t.Fatalf("update with current revision: %v, %v", put2, err)
	}
	_, err = c.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String("bad"), PolicyDocument: aws.String(`{"Statement":"nope"}`)})
	if errCode(err) != "MalformedPolicyDocumentException" {
		t.Fatalf("malformed policy: %v", err)
	}
	for i := 0; i < 4; i++ {
		if _, err := c.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String(fmt.Sprintf("p%d", i)), PolicyDocument: &doc}); err != nil {
			t.Fatal(err)
		}
	}
	_, err = c.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String("sixth"), PolicyDocument: &doc})
	if errCode(err) != "ServiceQuotaExceededException" {
		t.Fatalf("sixth policy: %v", err)
	}
	var names []string
	pager := rekognition.NewListProjectPoliciesPaginator(c, &rekognition.ListProjectPoliciesInput{ProjectArn: &arn, MaxResults: aws.Int32(2)})
	for pager.HasMorePages() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range page.ProjectPolicies {
			names = append(names, aws.ToString(p.PolicyName))
		}
	}
	if strings.Join(names, ",") != "p0,p1,p2,p3,share" {
		t.Fatalf("paged policies = %v", names)
	}
	_, err = c.DeleteProjectPolicy(ctx, &rekognition.DeleteProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String("share"), PolicyRevisionId: put.PolicyRevisionId})
	if errCode(err) != "InvalidPolicyRevisionIdException" {
		t.Fatalf("delete with stale revision: %v", err)
	}
	if _, err := c.DeleteProjectPolicy(ctx, &rekognition.DeleteProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String("share"), PolicyRevisionId: put2.PolicyRevisionId}); err != nil {
		t.Fatal(err)
	}
	_, err = c.DeleteProjectPolicy(ctx, &rekognition.DeleteProjectPolicyInput{ProjectArn: &arn, PolicyName: aws.String("share")})
	if errCode(err) != "ResourceNotFoundException" {
		t.Fatalf("delete missing policy: %v", err)
	}

	del, err := c.DeleteProject(ctx, &rekognition.DeleteProjectInput{ProjectArn: &arn})
	if err != nil || del.Status != rtypes.ProjectStatusDeleting {
		t.Fatalf("DeleteProject = %v, %v", del, err)
	}
	d, _ = c.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{ProjectNames: []string{"cookies"}})
	if len(d.ProjectDescriptions) != 0 {
		t.Fatalf("deleted project still described: %+v", d.ProjectDescriptions)
	}
	_, err = c.DeleteProject(ctx, &rekognition.DeleteProjectInput{ProjectArn: &arn})
	if errCode(err) != "ResourceNotFoundException" {
		t.Fatalf("second delete: %v", err)
	}
}

func TestDescribeProjectsPaginates(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	c := ts.Rekognition(alice)
	for i := 0; i < 25; i++ {
		if _, err := c.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String(fmt.Sprintf("proj-%02d", i))}); err != nil {
			t.Fatal(err)
		}
	}
	seen := map[string]bool{}
	pages := 0
	p := rekognition.NewDescribeProjectsPaginator(c, &rekognition.DescribeProjectsInput{MaxResults: aws.Int32(10)})
	for p.HasMorePages() {
		page, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, d := range page.ProjectDescriptions {
			seen[aws.ToString(d.ProjectArn)] = true
		}
	}
	if pages != 3 || len(seen) != 25 {
		t.Fatalf("pages = %d, projects = %d; want 3 pages, 25 projects", pages, len(seen))
	}
	_, err := c.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{NextToken: aws.String("garbage")})
	if errCode(err) != "InvalidPaginationTokenException" {
		t.Fatalf("garbage token: %v", err)
	}
	cm, err := c.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{Features: []rtypes.CustomizationFeature{rtypes.CustomizationFeatureContentModeration}})
	if err != nil || len(cm.ProjectDescriptions) != 0 {
		t.Fatalf("feature filter = %v, %v", cm, err)
	}
}

func TestAccountsAreIsolated(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	a, b := ts.Rekognition(alice), ts.Rekognition(bob)
	out, err := a.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("shared-name")})
	if err != nil {
		t.Fatal(err)
	}
	arn := out.ProjectArn
	// The same name is free in another account.
	bout, err := b.CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("shared-name")})
	if err != nil || strings.Contains(aws.ToString(bout.ProjectArn), alice.ID) {
		t.Fatalf("bob's project = %v, %v", bout, err)
	}
	d, err := b.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{})
	if err != nil || len(d.ProjectDescriptions) != 1 || aws.ToString(d.ProjectDescriptions[0].ProjectArn) != aws.ToString(bout.ProjectArn) {
		t.Fatalf("bob sees %+v, %v", d, err)
	}
	for name, fn := range map[string]func() error{
		"DeleteProject": func() error {
			_, err := b.DeleteProject(ctx, &rekognition.DeleteProjectInput{ProjectArn: arn})
			return err
		},
		"TagResource": func() error {
			_, err := b.TagResource(ctx, &rekognition.TagResourceInput{ResourceArn: arn, Tags: map[string]string{"x": "y"}})
			return err
		},
		"UntagResource": func() error {
			_, err := b.UntagResource(ctx, &rekognition.UntagResourceInput{ResourceArn: arn, TagKeys: []string{"x"}})
			return err
		},
		"ListTagsForResource": func() error {
			_, err := b.ListTagsForResource(ctx, &rekognition.ListTagsForResourceInput{ResourceArn: arn})
			return err
		},
		"PutProjectPolicy": func() error {
			_, err := b.PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: arn, PolicyName: aws.String("x"), PolicyDocument: aws.String(`{"Statement":[]}`)})
			return err
		},
		"DeleteProjectPolicy": func() error {
			_, err := b.DeleteProjectPolicy(ctx, &rekognition.DeleteProjectPolicyInput{ProjectArn: arn, PolicyName: aws.String("x")})
			return err
		},
		"ListProjectPolicies": func() error {
			_, err := b.ListProjectPolicies(ctx, &rekognition.ListProjectPoliciesInput{ProjectArn: arn})
			return err
		},
	} {
		if code := errCode(fn()); code != "AccessDeniedException" {
			t.Errorf("bob %s on alice's project: %s, want AccessDeniedException", name, code)
		}
	}
	// Alice's project is untouched.
	d, _ = a.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{})
	if len(d.ProjectDescriptions) != 1 {
		t.Fatalf("alice's projects after bob's attempts: %+v", d.ProjectDescriptions)
	}
	tags, _ := a.ListTagsForResource(ctx, &rekognition.ListTagsForResourceInput{ResourceArn: arn})
	if len(tags.Tags) != 0 {
		t.Fatalf("bob changed alice's tags: %v", tags.Tags)
	}
}

func TestAuthenticationFailures(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	wrong := rekognition.NewFromConfig(e2e.Config(ocellus.Account{ID: alice.ID, AccessKeyID: alice.AccessKeyID, SecretAccessKey: "wrong-secret"}), func(o *rekognition.Options) { o.BaseEndpoint = aws.String(ts.URL) })
	if _, err := wrong.DescribeProjects(ctx, &rekognition.DescribeProjectsInput{}); errCode(err) != "InvalidSignatureException" {
		t.Fatalf("wrong secret: %v", err)
	}
	stranger := ocellus.Account{ID: "333333333333", AccessKeyID: "AKIDNOBODY", SecretAccessKey: "x"}
	if _, err := ts.Rekognition(stranger).DescribeProjects(ctx, &rekognition.DescribeProjectsInput{}); errCode(err) != "UnrecognizedClientException" {
		t.Fatalf("unknown key: %v", err)
	}
	req, _ := http.NewRequest("POST", ts.URL+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "RekognitionService.DescribeProjects")
	_ = v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: alice.AccessKeyID, SecretAccessKey: alice.SecretAccessKey}, req, sha256hex("{}"), "rekognition", "us-east-1", time.Now().Add(-20*time.Minute))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || resp.Header.Get("X-Amzn-ErrorType") != "InvalidSignatureException" {
		t.Fatalf("skewed request: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
	noauth, _ := http.NewRequest("POST", ts.URL+"/", strings.NewReader("{}"))
	noauth.Header.Set("X-Amz-Target", "RekognitionService.DescribeProjects")
	resp, err = http.DefaultClient.Do(noauth)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned request: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}
}

// TestDocumentedErrors covers, for every operation in scope, the errors a
// request can earn: missing required member, too long, bad pattern, out of
// range, unknown ARN and another account's ARN.
func TestDocumentedErrors(t *testing.T) {
	ts := e2e.Start(t, server.Config{})
	ctx := context.Background()
	out, err := ts.Rekognition(alice).CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("mine")})
	if err != nil {
		t.Fatal(err)
	}
	arn := aws.ToString(out.ProjectArn)
	missing := strings.Replace(arn, "/mine/", "/missing/", 1)
	long := strings.Repeat("a", 256)
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"rekognition:*","Resource":"*"}]}`
	j := func(v any) string { b, _ := json.Marshal(v); return string(b) }
	cases := []struct {
		op, body, code, inMessage string
		as                        ocellus.Account
	}{
		{"CreateProject", `{}`, "InvalidParameterException", "Member must not be null", alice},
		{"CreateProject", j(map[string]any{"ProjectName": long}), "InvalidParameterException", "length less than or equal to 255", alice},
		{"CreateProject", `{"ProjectName":"a b"}`, "InvalidParameterException", "regular expression pattern", alice},
		{"CreateProject", `{"ProjectName":"x","Feature":"FACES"}`, "InvalidParameterException", "enum value set", alice},
		{"CreateProject", `{"ProjectName":7}`, "SerializationException", "", alice},
		{"DescribeProjects", `{"MaxResults":0}`, "InvalidParameterException", "greater than or equal to 1", alice},
		{"DescribeProjects", `{"MaxResults":101}`, "InvalidParameterException", "less than or equal to 100", alice},
		{"DescribeProjects", j(map[string]any{"ProjectNames": []string{long}}), "InvalidParameterException", "projectNames", alice},
		{"DeleteProject", `{}`, "InvalidParameterException", "Member must not be null", alice},
		{"DeleteProject", j(map[string]any{"ProjectArn": "not-an-arn"}), "InvalidParameterException", "regular expression pattern", alice},
		{"DeleteProject", j(map[string]any{"ProjectArn": missing}), "ResourceNotFoundException", "", alice},
		{"DeleteProject", j(map[string]any{"ProjectArn": arn}), "AccessDeniedException", "", bob},
		{"TagResource", j(map[string]any{"ResourceArn": arn}), "InvalidParameterException", "Member must not be null", alice},
		{"TagResource", j(map[string]any{"ResourceArn": arn, "Tags": map[string]string{long: "v"}}), "InvalidParameterException", "", alice},
		{"TagResource", j(map[string]any{"ResourceArn": missing, "Tags": map[string]string{"k": "v"}}), "ResourceNotFoundException", "", alice},
		{"TagResource", j(map[string]any{"ResourceArn": arn, "Tags": map[string]string{"k": "v"}}), "AccessDeniedException", "", bob},
		{"UntagResource", j(map[string]any{"ResourceArn": arn}), "InvalidParameterException", "Member must not be null", alice},
		{"UntagResource", j(map[string]any{"ResourceArn": missing, "TagKeys": []string{"k"}}), "ResourceNotFoundException", "", alice},
		{"UntagResource", j(map[string]any{"ResourceArn": arn, "TagKeys": []string{"k"}}), "AccessDeniedException", "", bob},
		{"ListTagsForResource", `{}`, "InvalidParameterException", "Member must not be null", alice},
		{"ListTagsForResource", j(map[string]any{"ResourceArn": strings.Repeat("x", 2049)}), "InvalidParameterException", "length less than or equal to 2048", alice},
		{"ListTagsForResource", j(map[string]any{"ResourceArn": missing}), "ResourceNotFoundException", "", alice},
		{"ListTagsForResource", j(map[string]any{"ResourceArn": arn}), "AccessDeniedException", "", bob},
		{"PutProjectPolicy", j(map[string]any{"ProjectArn": arn, "PolicyName": "p"}), "InvalidParameterException", "Member must not be null", alice},
		{"PutProjectPolicy", j(map[string]any{"ProjectArn": arn, "PolicyName": strings.Repeat("p", 129), "PolicyDocument": doc}), "InvalidParameterException", "length less than or equal to 128", alice},
		{"PutProjectPolicy", j(map[string]any{"ProjectArn": arn, "PolicyName": "bad name", "PolicyDocument": doc}), "InvalidParameterException", "regular expression pattern", alice},
		{"PutProjectPolicy", j(map[string]any{"ProjectArn": arn, "PolicyName": "p", "PolicyDocument": "not json"}), "MalformedPolicyDocumentException", "", alice},
		{"PutProjectPolicy", j(map[string]any{"ProjectArn": missing, "PolicyName": "p", "PolicyDocument": doc}), "ResourceNotFoundException", "", alice},
		{"PutProjectPolicy", j(map[string]any{"ProjectArn": arn, "PolicyName": "p", "PolicyDocument": doc}), "AccessDeniedException", "", bob},
		{"DeleteProjectPolicy", j(map[string]any{"ProjectArn": arn}), "InvalidParameterException", "Member must not be null", alice},
		{"DeleteProjectPolicy", j(map[string]any{"ProjectArn": arn, "PolicyName": "bad name"}), "InvalidParameterException", "regular expression pattern", alice},
		{"DeleteProjectPolicy", j(map[string]any{"ProjectArn": missing, "PolicyName": "p"}), "ResourceNotFoundException", "", alice},
		{"DeleteProjectPolicy", j(map[string]any{"ProjectArn": arn, "PolicyName": "p"}), "AccessDeniedException", "", bob},
		{"ListProjectPolicies", `{}`, "InvalidParameterException", "Member must not be null", alice},
		{"ListProjectPolicies", j(map[string]any{"ProjectArn": arn, "MaxResults": 6}), "InvalidParameterException", "less than or equal to 5", alice},
		{"ListProjectPolicies", j(map[string]any{"ProjectArn": arn, "MaxResults": 0}), "InvalidParameterException", "greater than or equal to 1", alice},
		{"ListProjectPolicies", j(map[string]any{"ProjectArn": arn, "NextToken": "bogus"}), "InvalidPaginationTokenException", "", alice},
		{"ListProjectPolicies", j(map[string]any{"ProjectArn": missing}), "ResourceNotFoundException", "", alice},
		{"ListProjectPolicies", j(map[string]any{"ProjectArn": arn}), "AccessDeniedException", "", bob},
		{"DetectFaces", `{}`, "UnknownOperationException", "", alice},
	}
	for _, c := range cases {
		t.Run(c.op+"/"+c.code, func(t *testing.T) {
			status, body := call(t, ts, c.as, c.op, c.body)
			if status != 400 || body["__type"] != c.code {
				t.Fatalf("%s %s: status %d body %v, want 400 %s", c.op, c.body[:min(len(c.body), 80)], status, body, c.code)
			}
			if msg, _ := body["Message"].(string); !strings.Contains(msg, c.inMessage) || msg == "" {
				t.Fatalf("%s: message %q does not contain %q", c.op, msg, c.inMessage)
			}
		})
	}
	// Nothing above changed the stored project.
	d, _ := ts.Rekognition(alice).DescribeProjects(ctx, &rekognition.DescribeProjectsInput{})
	if len(d.ProjectDescriptions) != 1 {
		t.Fatalf("projects after error cases: %d", len(d.ProjectDescriptions))
	}
}

func TestRestartKeepsState(t *testing.T) {
	dir := t.TempDir()
	ts := e2e.Start(t, server.Config{DataDir: dir})
	ctx := context.Background()
	out, err := ts.Rekognition(alice).CreateProject(ctx, &rekognition.CreateProjectInput{ProjectName: aws.String("durable"), Tags: map[string]string{"k": "v"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.Rekognition(alice).PutProjectPolicy(ctx, &rekognition.PutProjectPolicyInput{ProjectArn: out.ProjectArn, PolicyName: aws.String("p"),
		PolicyDocument: aws.String(`{"Statement":{"Effect":"Deny","Principal":"*","Action":"*"}}`)}); err != nil {
		t.Fatal(err)
	}
	ts.Stop()
	if _, err := os.Stat(filepath.Join(dir, "ocellus.db")); err != nil {
		t.Fatal(err)
	}
	ts2 := e2e.Start(t, server.Config{DataDir: dir})
	d, err := ts2.Rekognition(alice).DescribeProjects(ctx, &rekognition.DescribeProjectsInput{})
	if err != nil || len(d.ProjectDescriptions) != 1 {
		t.Fatalf("after restart: %+v, %v", d, err)
	}
	tags, _ := ts2.Rekognition(alice).ListTagsForResource(ctx, &rekognition.ListTagsForResourceInput{ResourceArn: out.ProjectArn})
	pols, _ := ts2.Rekognition(alice).ListProjectPolicies(ctx, &rekognition.ListProjectPoliciesInput{ProjectArn: out.ProjectArn})
	if tags.Tags["k"] != "v" || len(pols.ProjectPolicies) != 1 {
		t.Fatalf("after restart: tags %v policies %v", tags.Tags, pols.ProjectPolicies)
	}
}

func sha256hex(s string) string {
	return fmt.Sprintf("%x", sha256.Sum256([]byte(s)))
}
