package policy

import (
	"testing"

	"github.com/ocellus/ocellus/internal/ocellus"
)

const (
	bob    = "222222222222"
	carol  = "333333333333"
	action = "rekognition:CopyProjectVersion"
	res    = "arn:aws:rekognition:us-east-1:111111111111:project/p/1/version/v1/2"
)

func TestAllows(t *testing.T) {
	cases := []struct {
		name, doc, account string
		want               bool
	}{
		{"account root principal", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"rekognition:CopyProjectVersion","Resource":"*"}]}`, bob, true},
		{"other account not named", `{"Statement":[{"Effect":"Allow","Principal":{"AWS":"222222222222"},"Action":"rekognition:CopyProjectVersion","Resource":"*"}]}`, carol, false},
		{"star principal", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"rekognition:*"}}`, carol, true},
		{"action wildcard mismatch", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"rekognition:Describe*"}}`, bob, false},
		{"action case-insensitive", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"Rekognition:copyprojectversion"}}`, bob, true},
		{"resource wildcard across slashes", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:rekognition:us-east-1:111111111111:project/p/*"}}`, bob, true},
		{"resource other project", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Resource":"arn:aws:rekognition:us-east-1:111111111111:project/q/*"}}`, bob, false},
		{"explicit deny wins", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"},{"Effect":"Deny","Principal":{"AWS":["222222222222"]},"Action":"rekognition:Copy*"}]}`, bob, false},
		{"deny for someone else", `{"Statement":[{"Effect":"Allow","Principal":"*","Action":"*"},{"Effect":"Deny","Principal":{"AWS":"333333333333"},"Action":"*"}]}`, bob, true},
		{"not action", `{"Statement":{"Effect":"Allow","Principal":"*","NotAction":"rekognition:DeleteProject"}}`, bob, true},
		{"question mark", `{"Statement":{"Effect":"Allow","Principal":"*","Action":"rekognition:CopyProjectVersio?"}}`, bob, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			d, err := Parse(c.doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := d.Allows(c.account, action, res); got != c.want {
				t.Fatalf("Allows = %v, want %v", got, c.want)
			}
		})
	}
}

func TestMalformed(t *testing.T) {
	for _, doc := range []string{
		``, `null`, `[]`, `{"Statement":"x"}`, `{}`, `{"Statement":[]}`,
		`{"Version":"2099-01-01","Statement":{"Effect":"Allow","Principal":"*","Action":"*"}}`,
		`{"Statement":{"Effect":"Maybe","Principal":"*","Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":{"AWS":"bob"},"Action":"*"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"CopyProjectVersion"}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*","Condition":{"Bool":{"x":"y"}}}}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"},"Bogus":1}`,
		`{"Statement":{"Effect":"Allow","Principal":"*","Action":"*"}} {}`,
	} {
		if _, err := Parse(doc); ocellus.KindOf(err) != ocellus.MalformedPolicy {
			t.Errorf("Parse(%q) = %v, want MalformedPolicy", doc, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"rekognition:*","Resource":"*"}]}`)
	f.Add(`{"Statement":{"Effect":"Deny","Principal":"*","NotAction":["a:b"],"NotResource":"x*"}}`)
	f.Fuzz(func(t *testing.T, doc string) {
		d, err := Parse(doc)
		if err != nil {
			if ocellus.KindOf(err) != ocellus.MalformedPolicy {
				t.Fatalf("Parse error kind %v", ocellus.KindOf(err))
			}
			return
		}
		d.Allows(bob, action, res)
	})
}
