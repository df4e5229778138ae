package ocellus

import (
	"reflect"
	"strings"
	"testing"
)

// The v7 taxonomy has 10 top-level, 20 second-level and 22 third-level
// labels, every name unique and every parent one level up.
func TestModerationTaxonomyShape(t *testing.T) {
	count := map[int]int{}
	level := map[string]int{}
	for _, l := range ModerationLabels() {
		if _, dup := level[l.Name]; dup {
			t.Errorf("label %q appears twice", l.Name)
		}
		level[l.Name] = l.Level
		count[l.Level]++
	}
	if want := map[int]int{1: 10, 2: 20, 3: 22}; !reflect.DeepEqual(count, want) {
		t.Errorf("labels per level = %v, want %v", count, want)
	}
	for _, l := range ModerationLabels() {
		switch {
		case l.Level == 1 && l.Parent != "":
			t.Errorf("top-level %q has parent %q", l.Name, l.Parent)
		case l.Level > 1 && level[l.Parent] != l.Level-1:
			t.Errorf("%q (level %d) has parent %q at level %d", l.Name, l.Level, l.Parent, level[l.Parent])
		}
	}
}

func TestModerationChain(t *testing.T) {
	for _, tc := range []struct {
		name string
		want []ModerationLabel
	}{
		{"Exposed Female Nipple", []ModerationLabel{
			{Name: "Exposed Female Nipple", Parent: "Explicit Nudity", Level: 3},
			{Name: "Explicit Nudity", Parent: "Explicit", Level: 2},
			{Name: "Explicit", Level: 1},
		}},
		{"Obstructed Male Genitalia", []ModerationLabel{
			{Name: "Obstructed Male Genitalia", Parent: "Obstructed Intimate Parts", Level: 3},
			{Name: "Obstructed Intimate Parts", Parent: "Non-Explicit Nudity of Intimate parts and Kissing", Level: 2},
			{Name: "Non-Explicit Nudity of Intimate parts and Kissing", Level: 1},
		}},
		{"Air Crash", []ModerationLabel{
			{Name: "Air Crash", Parent: "Crashes", Level: 3},
			{Name: "Crashes", Parent: "Visually Disturbing", Level: 2},
			{Name: "Visually Disturbing", Level: 1},
		}},
		{"Female Swimwear or Underwear", []ModerationLabel{
			{Name: "Female Swimwear or Underwear", Parent: "Swimwear or Underwear", Level: 2},
			{Name: "Swimwear or Underwear", Level: 1},
		}},
		{"Gambling", []ModerationLabel{{Name: "Gambling", Level: 1}}},
	} {
		got, ok := ModerationChain(tc.name)
		if !ok || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("ModerationChain(%q) = %v, %v; want %v", tc.name, got, ok, tc.want)
		}
	}
	// v6.1 names are not v7 labels.
	for _, name := range []string{"Suggestive", "Explicit nudity", "Drugs and Tobacco", ""} {
		if got, ok := ModerationChain(name); ok {
			t.Errorf("ModerationChain(%q) = %v, want not found", name, got)
		}
	}
}

// Training manifests name top-level categories, v7 or their v6.1 names;
// deeper or unknown labels are refused with a message saying why.
func TestModerationTopLevel(t *testing.T) {
	for name, want := range map[string]string{"Gambling": "Gambling", "Explicit": "Explicit", "Explicit Nudity": "Explicit",
		"Suggestive": "Swimwear or Underwear", "Drugs and Tobacco": "Drugs & Tobacco", "Hate Symbols": "Hate Symbols"} {
		if got, err := ModerationTopLevel(name); got != want || err != nil {
			t.Errorf("ModerationTopLevel(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for name, msg := range map[string]string{"Weapons": `level-2 label; adapters are trained on top-level categories (its category is "Violence")`,
		"Pills": `level-3`, "Cats": "not a moderation label", "gambling": "not a moderation label"} {
		_, err := ModerationTopLevel(name)
		if KindOf(err) != Invalid || !strings.Contains(MessageOf(err), msg) {
			t.Errorf("ModerationTopLevel(%q): %v, want Invalid containing %q", name, err, msg)
		}
	}
}
