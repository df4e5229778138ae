package apimodel_test

import (
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/ocellus/ocellus/internal/apimodel"
)

// awsJson1.1 (Rekognition): the operation comes from X-Amz-Target, the
// input is the JSON body.
func Example_awsJSON() {
	target := "RekognitionService.DescribeProjects"
	body := []byte(`{"MaxResults":101}`)

	name := strings.TrimPrefix(target, apimodel.Rekognition.TargetPrefix+".")
	if _, ok := apimodel.Rekognition.Operation(name); !ok {
		fmt.Println("UnknownOperationException")
		return
	}
	in, err := apimodel.DecodeJSON(body)
	if err == nil {
		err = apimodel.Rekognition.Validate(name, in)
	}
	var ve *apimodel.ValidationError
	if errors.As(err, &ve) {
		// Serialization -> SerializationException; Validation -> InvalidParameterException.
		fmt.Println(ve.Kind, ve.Member)
		fmt.Println(err)
	}
	// Output:
	// Validation MaxResults
	// 1 validation error detected: Value '101' at 'maxResults' failed to satisfy constraint: Member must have value less than or equal to 100
}

// restJson1 (Lookout for Vision): Match finds the operation and URI labels,
// DecodeRest gathers labels, query, headers and body into one input.
func Example_restJSON() {
	r := httptest.NewRequest("DELETE",
		"/2020-11-20/tags/arn%3Aaws%3Alookoutvision%3Aus-east-1%3A123456789012%3Aproject%2Fp1?tagKeys=a&tagKeys=b", nil)

	op, labels, ok := apimodel.LookoutVision.Match(r.Method, r.URL.EscapedPath())
	if !ok {
		fmt.Println("404")
		return
	}
	in, err := apimodel.LookoutVision.DecodeRest(op, r, labels)
	if err == nil {
		err = apimodel.LookoutVision.Validate(op.Name, in)
	}
	if err != nil {
		fmt.Println(apimodel.LookoutVision.ErrorStatus("ValidationException"), err)
		return
	}
	fmt.Println(op.Name, op.ResponseCode, in["ResourceArn"], in["TagKeys"])
	// Output:
	// UntagResource 200 arn:aws:lookoutvision:us-east-1:123456789012:project/p1 [a b]
}
