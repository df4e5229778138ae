//go:build tools

// Package tools pins dependencies that are used by tests, generators and
// packages still being written, so that `go mod tidy` keeps their exact versions.
package tools

import (
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/rekognition"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/aws/aws-sdk-go/service/lookoutforvision"
	_ "github.com/yalue/onnxruntime_go"
	_ "golang.org/x/image/draw"
	_ "google.golang.org/protobuf/encoding/protowire"
	_ "modernc.org/sqlite"
)
