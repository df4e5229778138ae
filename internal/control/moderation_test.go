package control

import (
	"math"
	"reflect"
	"testing"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/vision/moderation"
)

// The base model's five classes map onto v7 top-level categories, each
// reported with its chain, most confident first, filtered by MinConfidence.
func TestModerationLabels(t *testing.T) {
	explicit := ocellus.ModerationLabel{Name: "Explicit", Level: 1}
	swim := ocellus.ModerationLabel{Name: "Swimwear or Underwear", Level: 1}
	// Classes: Drawing, Hentai, Neutral, Porn, Sexy.
	for _, tc := range []struct {
		name    string
		s       moderation.Scores
		minConf float64
		labels  []ModerationLabel
		types   []ContentType
	}{
		{"neutral photo", moderation.Scores{0.01, 0, 0.97, 0.01, 0.01}, 50, []ModerationLabel{}, []ContentType{}},
		{"porn and hentai add up", moderation.Scores{0, 0.25, 0.2, 0.5, 0.05}, 50,
			[]ModerationLabel{{explicit, 75}}, []ContentType{}},
		{"sexy", moderation.Scores{0, 0, 0.3, 0.1, 0.6}, 50,
			[]ModerationLabel{{swim, 60}}, []ContentType{}},
		{"both at a low threshold, most confident first", moderation.Scores{0, 0, 0.3, 0.1, 0.6}, 5,
			[]ModerationLabel{{swim, 60}, {explicit, 10}}, []ContentType{}},
		{"drawing", moderation.Scores{0.9, 0.05, 0.05, 0, 0}, 50,
			[]ModerationLabel{}, []ContentType{{"Illustrated", 95}}},
		{"at MinConfidence exactly", moderation.Scores{0, 0, 0.5, 0, 0.5}, 50,
			[]ModerationLabel{{swim, 50}}, []ContentType{}},
	} {
		labels, types := moderationLabels(tc.s, tc.minConf)
		for i := range labels { // float32 scores: compare to 1e-3 percent
			labels[i].Confidence = math.Round(labels[i].Confidence*1000) / 1000
		}
		if !reflect.DeepEqual(labels, tc.labels) || len(types) != len(tc.types) {
			t.Errorf("%s: labels %+v types %+v, want %+v %+v", tc.name, labels, types, tc.labels, tc.types)
			continue
		}
		for i := range types {
			if types[i].Name != tc.types[i].Name || math.Abs(types[i].Confidence-tc.types[i].Confidence) > 1e-3 {
				t.Errorf("%s: types %+v, want %+v", tc.name, types, tc.types)
			}
		}
	}
	for _, m := range nsfwjsLabels {
		if _, ok := ocellus.ModerationChain(m.label); !ok {
			t.Errorf("%q is not a v7 label", m.label)
		}
	}
}
