package tfjs

import (
	"testing"
)

// FuzzParseModel feeds model.json / bundle bytes through the parser, the
// weights manifest and the converter: bad input is an error, never a panic
// or an unbounded allocation.
func FuzzParseModel(f *testing.F) {
	model, shard, _ := tinyFiles()
	f.Add(model, shard)
	gm, gs, _ := tinyGraph()
	f.Add(gm, gs)
	f.Add([]byte(`{"modelTopology":{"model_config":{"class_name":"Model","config":{"layers":[],"input_layers":[],"output_layers":[]}}},"weightsManifest":[{"paths":["a"],"weights":[{"name":"w","shape":[2],"dtype":"float32"}]}]}`), []byte{0, 0, 0, 0, 0, 0, 128, 63})
	f.Add([]byte(`{format:"graph-model",modelTopology:{node:[]},weightsManifest:[]}`), []byte(`a.exports="AAAA"`))
	f.Add([]byte(`x.exports={modelTopology:{model_config:{class_name:"Model",config:{layers:[{name:"i",class_name:"InputLayer",config:{batch_input_shape:[null,1,1,3]},inbound_nodes:[]}],input_layers:[["i",0,0]],output_layers:[[]]}}},weightsManifest:[{paths:["s"],weights:[{name:"q",shape:[1e9,1e9],dtype:"float32",quantization:{min:0,scale:1,dtype:"uint8"}}]}]}`), []byte{})
	f.Fuzz(func(t *testing.T, modelSrc, shardSrc []byte) {
		m, err := ParseModel(modelSrc)
		if err != nil {
			return
		}
		w, err := m.Weights(func(p string) ([]byte, error) { return ParseShard(p+".min.js", shardSrc) })
		if err != nil {
			// A raw shard as well: .bin files are taken as they are.
			if w, err = m.Weights(func(p string) ([]byte, error) { return ParseShard(p, shardSrc) }); err != nil {
				return
			}
		}
		if om, err := ConvertLayers(m, w); err == nil {
			_ = om.Encode()
		}
		if om, err := ConvertGraph(m, w); err == nil {
			_ = om.Encode()
		}
	})
}
