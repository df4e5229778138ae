package ocellus

// The Rekognition content moderation taxonomy, version 7: ten top-level
// categories, their second-level labels and the third-level labels under
// some of those. DetectModerationLabels reports a label together with every
// ancestor, so a label name alone fixes the whole chain.

// ModerationTaxonomyVersion is the version of the taxonomy below.
const ModerationTaxonomyVersion = "7.0"

// ModerationLabel is one label of the taxonomy.
type ModerationLabel struct {
	Name   string
	Parent string // "" for a top-level category
	Level  int    // 1 (top level) to 3
}

// moderationGroup is a second-level label and its third-level labels.
type moderationGroup struct {
	name  string
	third []string
}

// moderationTree lists each top-level category with its second-level
// labels, and each of those with its third-level labels.
var moderationTree = []struct {
	top    string
	second []moderationGroup
}{
	{"Explicit", []moderationGroup{
		{"Explicit Nudity", []string{"Exposed Male Genitalia", "Exposed Female Genitalia", "Exposed Buttocks or Anus", "Exposed Female Nipple"}},
		{"Explicit Sexual Activity", nil},
		{"Sex Toys", nil},
	}},
	{"Non-Explicit Nudity of Intimate parts and Kissing", []moderationGroup{
		{"Non-Explicit Nudity", []string{"Bare Back", "Exposed Male Nipple", "Partially Exposed Buttocks", "Partially Exposed Female Breast", "Implied Nudity"}},
		{"Obstructed Intimate Parts", []string{"Obstructed Female Nipple", "Obstructed Male Genitalia"}},
		{"Kissing on the Lips", nil},
	}},
	{"Swimwear or Underwear", []moderationGroup{
		{"Female Swimwear or Underwear", nil},
		{"Male Swimwear or Underwear", nil},
	}},
	{"Violence", []moderationGroup{
		{"Weapons", nil},
		{"Graphic Violence", []string{"Weapon Violence", "Physical Violence", "Self-Harm", "Blood & Gore", "Explosions and Blasts"}},
	}},
	{"Visually Disturbing", []moderationGroup{
		{"Death and Emaciation", []string{"Emaciated Bodies", "Corpses"}},
		{"Crashes", []string{"Air Crash"}},
	}},
	{"Drugs & Tobacco", []moderationGroup{
		{"Products", []string{"Pills"}},
		{"Drugs & Tobacco Paraphernalia & Use", []string{"Smoking"}},
	}},
	{"Alcohol", []moderationGroup{
		{"Alcohol Use", []string{"Drinking"}},
		{"Alcoholic Beverages", nil},
	}},
	{"Rude Gestures", []moderationGroup{
		{"Middle Finger", nil},
	}},
	{"Gambling", nil},
	{"Hate Symbols", []moderationGroup{
		{"Nazi Party", nil},
		{"White Supremacy", nil},
		{"Extremist", nil},
	}},
}

// ModerationLabels returns every label of the taxonomy, each top-level
// category followed by its subtree (depth first).
func ModerationLabels() []ModerationLabel {
	var out []ModerationLabel
	for _, t := range moderationTree {
		out = append(out, ModerationLabel{Name: t.top, Level: 1})
		for _, s := range t.second {
			out = append(out, ModerationLabel{Name: s.name, Parent: t.top, Level: 2})
			for _, th := range s.third {
				out = append(out, ModerationLabel{Name: th, Parent: s.name, Level: 3})
			}
		}
	}
	return out
}

// ModerationChain returns the label called name and its ancestors, the
// label first and its top-level category last, as DetectModerationLabels
// lists them; false when the taxonomy has no such label.
func ModerationChain(name string) ([]ModerationLabel, bool) {
	byName := map[string]ModerationLabel{}
	for _, l := range ModerationLabels() {
		byName[l.Name] = l
	}
	l, ok := byName[name]
	if !ok {
		return nil, false
	}
	chain := []ModerationLabel{l}
	for l.Parent != "" {
		l = byName[l.Parent]
		chain = append(chain, l)
	}
	return chain, true
}

// moderationAliases are the v6.1 top-level categories whose names changed
// in v7, with their v7 homes. v6.1 "Suggestive" became two categories;
// its images of swimwear and underwear (the ones an open base model's
// "sexy" class holds) are "Swimwear or Underwear".
var moderationAliases = map[string]string{
	"Explicit Nudity":   "Explicit",
	"Suggestive":        "Swimwear or Underwear",
	"Drugs and Tobacco": "Drugs & Tobacco",
}

// ModerationTopLevel resolves a label name of a Custom Moderation training
// manifest to its v7 top-level category: a v7 top-level name is itself, a
// v6.1 top-level name its v7 home. A deeper label is refused (adapters
// learn top-level categories), naming its category, and so is a name the
// taxonomy does not have.
func ModerationTopLevel(name string) (string, error) {
	if v7, ok := moderationAliases[name]; ok {
		return v7, nil
	}
	chain, ok := ModerationChain(name)
	if !ok {
		return "", Errorf(Invalid, "%q is not a moderation label of the v7 taxonomy.", name)
	}
	if top := chain[len(chain)-1]; top.Name != name {
		return "", Errorf(Invalid, "%q is a level-%d label; adapters are trained on top-level categories (its category is %q).", name, chain[0].Level, top.Name)
	}
	return name, nil
}
