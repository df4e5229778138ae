// Package apimodel holds the AWS API models of the two services Ocellus
// speaks — Rekognition Custom Labels (awsJson1.1) and Lookout for Vision
// (restJson1) — as Go data generated from the official api-2.json files, and
// the small runtime that uses them: request validation with AWS's own
// constraint messages, and restJson1 routing and request decoding.
//
// Why generated tables rather than hand-written checks: clients only notice
// that Ocellus is not AWS when its answers differ, and the constraints (name
// patterns, length and range limits, enums, required members, HTTP routes and
// status codes) are all in the published model. Generating them keeps the
// front-ends honest and makes a model update a `go generate` away.
//
// The package uses only the standard library and knows nothing of the domain:
// it answers "is this input well-formed for operation X" and "which operation
// is this HTTP request", nothing more.
package apimodel

//go:generate go run ./gen
