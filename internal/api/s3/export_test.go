package s3

// Helpers of the package's own tests that the external tests
// (package s3_test, which may import the whole server) use too.
var (
	CountFiles = countFiles
	MkBucket   = mkBucket
	RandBytes  = randBytes
)
