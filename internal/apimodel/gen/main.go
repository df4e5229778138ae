// Command gen turns the official AWS API models (api-2.json from the
// aws-sdk-go module pinned in go.mod) into the Go data tables of package
// apimodel. The model is the spec; the generated Go is ours, so requests are
// validated against exactly what AWS publishes instead of hand-copied rules.
//
// Usage (from internal/apimodel, via go generate): go run ./gen [-out dir] [-models dir]
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"go/format"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
)

// rekognitionOps are the Custom Labels (and Custom Moderation) operations Ocellus serves; the rest of
// Rekognition (faces, video, ...) is out of scope and left out of the tables.
var rekognitionOps = []string{
	"CreateProject", "DescribeProjects", "DeleteProject",
	"CreateDataset", "DescribeDataset", "DeleteDataset",
	"ListDatasetEntries", "ListDatasetLabels", "UpdateDatasetEntries", "DistributeDatasetEntries",
	"CreateProjectVersion", "DescribeProjectVersions", "StartProjectVersion", "StopProjectVersion",
	"DeleteProjectVersion", "CopyProjectVersion",
	"PutProjectPolicy", "DeleteProjectPolicy", "ListProjectPolicies",
	"DetectCustomLabels", "DetectModerationLabels", "TagResource", "UntagResource", "ListTagsForResource",
}

type api struct {
	Metadata struct {
		APIVersion   string `json:"apiVersion"`
		Protocol     string `json:"protocol"`
		ServiceID    string `json:"serviceId"`
		SigningName  string `json:"signingName"`
		TargetPrefix string `json:"targetPrefix"`
		JSONVersion  string `json:"jsonVersion"`
	} `json:"metadata"`
	Operations map[string]operation `json:"operations"`
	Shapes     map[string]shape     `json:"shapes"`
}

type ref struct {
	Shape string `json:"shape"`
}

type operation struct {
	Name string `json:"name"`
	HTTP struct {
		Method       string `json:"method"`
		RequestURI   string `json:"requestUri"`
		ResponseCode int    `json:"responseCode"`
	} `json:"http"`
	Input  *ref  `json:"input"`
	Output *ref  `json:"output"`
	Errors []ref `json:"errors"`
}

type member struct {
	Name             string
	Shape            string `json:"shape"`
	Location         string `json:"location"`
	LocationName     string `json:"locationName"`
	IdempotencyToken bool   `json:"idempotencyToken"`
	JSONValue        bool   `json:"jsonvalue"`
	TimestampFormat  string `json:"timestampFormat"`
}

// members keeps the model's member order: validation errors are reported in
// that order, and the generated file must be stable.
type members []member

func (ms *members) UnmarshalJSON(b []byte) error {
	dec := json.NewDecoder(bytes.NewReader(b))
	if _, err := dec.Token(); err != nil {
		return err
	}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		var m member
		if err := dec.Decode(&m); err != nil {
			return err
		}
		m.Name = t.(string)
		*ms = append(*ms, m)
	}
	return nil
}

type shape struct {
	Type            string   `json:"type"`
	Members         members  `json:"members"`
	Required        []string `json:"required"`
	Payload         string   `json:"payload"`
	Min             *int64   `json:"min"`
	Max             *int64   `json:"max"`
	Pattern         *string  `json:"pattern"`
	Enum            []string `json:"enum"`
	Member          *ref     `json:"member"`
	Key             *ref     `json:"key"`
	Value           *ref     `json:"value"`
	TimestampFormat string   `json:"timestampFormat"`
	Streaming       bool     `json:"streaming"`
	RequiresLength  bool     `json:"requiresLength"`
	Sensitive       bool     `json:"sensitive"`
	Exception       bool     `json:"exception"`
	Fault           bool     `json:"fault"`
	Error           *struct {
		Code           string `json:"code"`
		HTTPStatusCode int    `json:"httpStatusCode"`
		SenderFault    bool   `json:"senderFault"`
	} `json:"error"`
}

func main() {
	log.SetFlags(0)
	log.SetPrefix("apimodel/gen: ")
	out := flag.String("out", ".", "directory to write the generated files to")
	models := flag.String("models", "", "aws-sdk-go models/apis directory (default: from the module cache)")
	flag.Parse()
	if *models == "" {
		dir, err := sdkDir()
		if err != nil {
			log.Fatal(err)
		}
		*models = filepath.Join(dir, "models", "apis")
	}
	jobs := []struct{ model, file, varName, doc string }{
		{"rekognition/2016-06-27/api-2.json", "rekognition_gen.go", "Rekognition",
			"Rekognition is the Custom Labels subset of Amazon Rekognition (awsJson1.1)."},
		{"lookoutvision/2020-11-20/api-2.json", "lookoutvision_gen.go", "LookoutVision",
			"LookoutVision is Amazon Lookout for Vision (restJson1), all operations."},
	}
	for _, j := range jobs {
		var only []string
		if j.varName == "Rekognition" {
			only = rekognitionOps
		}
		src, err := generate(filepath.Join(*models, j.model), j.varName, j.doc, only)
		if err != nil {
			log.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(*out, j.file), src, 0o644); err != nil {
			log.Fatal(err)
		}
	}
}

// sdkDir finds github.com/aws/aws-sdk-go in the module cache at the version
// go.mod requires.
func sdkDir() (string, error) {
	b, err := exec.Command("go", "list", "-m", "-json", "github.com/aws/aws-sdk-go").Output()
	if err != nil {
		return "", fmt.Errorf("go list -m github.com/aws/aws-sdk-go: %w", err)
	}
	var m struct{ Dir string }
	if err := json.Unmarshal(b, &m); err != nil {
		return "", err
	}
	if m.Dir == "" {
		return "", fmt.Errorf("github.com/aws/aws-sdk-go is not in the module cache (run go mod download)")
	}
	return m.Dir, nil
}

func generate(path, varName, doc string, only []string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var a api
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var opNames []string
	if only != nil {
		for _, n := range only {
			if _, ok := a.Operations[n]; !ok {
				return nil, fmt.Errorf("%s: no operation %s", path, n)
			}
		}
		opNames = slices.Clone(only)
	} else {
		for n := range a.Operations {
			opNames = append(opNames, n)
		}
	}
	sort.Strings(opNames)

	// Keep only the shapes reachable from the chosen operations.
	seen := map[string]bool{}
	var visit func(string) error
	visit = func(n string) error {
		if n == "" || seen[n] {
			return nil
		}
		s, ok := a.Shapes[n]
		if !ok {
			return fmt.Errorf("%s: unknown shape %s", path, n)
		}
		seen[n] = true
		for _, m := range s.Members {
			if err := visit(m.Shape); err != nil {
				return err
			}
		}
		for _, r := range []*ref{s.Member, s.Key, s.Value} {
			if r != nil {
				if err := visit(r.Shape); err != nil {
					return err
				}
			}
		}
		return nil
	}
	for _, n := range opNames {
		op := a.Operations[n]
		if op.Input != nil {
			if err := visit(op.Input.Shape); err != nil {
				return nil, err
			}
		}
		if op.Output != nil {
			if err := visit(op.Output.Shape); err != nil {
				return nil, err
			}
		}
		for _, e := range op.Errors {
			if err := visit(e.Shape); err != nil {
				return nil, err
			}
		}
	}
	shapeNames := make([]string, 0, len(seen))
	for n := range seen {
		shapeNames = append(shapeNames, n)
	}
	sort.Strings(shapeNames)

	var w bytes.Buffer
	p := func(format string, args ...any) { fmt.Fprintf(&w, format, args...) }
	p("// Code generated by go run ./gen from %s/%s; DO NOT EDIT.\n\n", filepath.Base(filepath.Dir(filepath.Dir(path))), filepath.Base(filepath.Dir(path))+"/api-2.json")
	p("package apimodel\n\n")
	p("// %s\n", doc)
	p("var %s = &Service{\n", varName)
	p("ID: %q,\nAPIVersion: %q,\nProtocol: %q,\nSigningName: %q,\n",
		a.Metadata.ServiceID, a.Metadata.APIVersion, a.Metadata.Protocol, a.Metadata.SigningName)
	if a.Metadata.TargetPrefix != "" {
		p("TargetPrefix: %q,\n", a.Metadata.TargetPrefix)
	}
	p("Operations: map[string]*Operation{\n")
	for _, n := range opNames {
		op := a.Operations[n]
		code := op.HTTP.ResponseCode
		if code == 0 {
			code = 200
		}
		p("%q: {Name: %q, Method: %q, RequestURI: %q, ResponseCode: %d", n, n, op.HTTP.Method, op.HTTP.RequestURI, code)
		if op.Input != nil {
			p(", Input: %q", op.Input.Shape)
		}
		if op.Output != nil {
			p(", Output: %q", op.Output.Shape)
		}
		if len(op.Errors) > 0 {
			var errs []string
			for _, e := range op.Errors {
				errs = append(errs, fmt.Sprintf("%q", e.Shape))
			}
			p(", Errors: []string{%s}", strings.Join(errs, ", "))
		}
		p("},\n")
	}
	p("},\n")
	p("Shapes: map[string]*Shape{\n")
	for _, n := range shapeNames {
		s := a.Shapes[n]
		p("%q: {Name: %q, Type: %q", n, n, s.Type)
		if s.Min != nil {
			p(", Min: i64(%d)", *s.Min)
		}
		if s.Max != nil {
			p(", Max: i64(%d)", *s.Max)
		}
		if s.Pattern != nil {
			p(", Pattern: %q", *s.Pattern)
		}
		if len(s.Enum) > 0 {
			p(", Enum: %#v", s.Enum)
		}
		if s.Member != nil {
			p(", Member: %q", s.Member.Shape)
		}
		if s.Key != nil {
			p(", Key: %q", s.Key.Shape)
		}
		if s.Value != nil {
			p(", Value: %q", s.Value.Shape)
		}
		if s.TimestampFormat != "" {
			p(", TimestampFormat: %q", s.TimestampFormat)
		}
		if len(s.Required) > 0 {
			p(", Required: %#v", s.Required)
		}
		if s.Payload != "" {
			p(", Payload: %q", s.Payload)
		}
		for _, f := range []struct {
			name string
			v    bool
		}{{"Streaming", s.Streaming}, {"RequiresLength", s.RequiresLength}, {"Sensitive", s.Sensitive}, {"Exception", s.Exception}, {"Fault", s.Fault}} {
			if f.v {
				p(", %s: true", f.name)
			}
		}
		if s.Error != nil {
			var f []string
			if s.Error.Code != "" {
				f = append(f, fmt.Sprintf("Code: %q", s.Error.Code))
			}
			if s.Error.HTTPStatusCode != 0 {
				f = append(f, fmt.Sprintf("HTTPStatusCode: %d", s.Error.HTTPStatusCode))
			}
			if s.Error.SenderFault {
				f = append(f, "SenderFault: true")
			}
			p(", Error: &ErrorInfo{%s}", strings.Join(f, ", "))
		}
		if len(s.Members) > 0 {
			p(", Members: []Member{\n")
			for _, m := range s.Members {
				p("{Name: %q, Shape: %q", m.Name, m.Shape)
				if m.Location != "" {
					p(", Location: %q", m.Location)
				}
				if m.LocationName != "" {
					p(", LocationName: %q", m.LocationName)
				}
				if m.IdempotencyToken {
					p(", IdempotencyToken: true")
				}
				if m.JSONValue {
					p(", JSONValue: true")
				}
				if m.TimestampFormat != "" {
					p(", TimestampFormat: %q", m.TimestampFormat)
				}
				p("},\n")
			}
			p("}")
		}
		p("},\n")
	}
	p("},\n}\n")
	src, err := format.Source(w.Bytes())
	if err != nil {
		return nil, fmt.Errorf("gofmt %s: %w\n%s", varName, err, w.Bytes())
	}
	return src, nil
}
