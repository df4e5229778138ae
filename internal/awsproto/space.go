package awsproto

import (
	"strings"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// StoresData reports whether an operation of the JSON APIs stores new data
// (and so is refused while the data volume is within its reserve):
// Create*, Update*, Put*, Tag*, Copy* and Distribute*. Reads, deletions,
// starts and stops always run, so a full volume can be cleaned up.
func StoresData(op string) bool {
	for _, p := range []string{"Create", "Update", "Put", "Tag", "Copy", "Distribute"} {
		if strings.HasPrefix(op, p) {
			return true
		}
	}
	return false
}

// InternalMessage is the message of an internal error's response: generic
// with the request id (the cause is only logged), except that a full data
// volume is said plainly, since the caller can act on it.
func InternalMessage(err error, requestID string) string {
	if ocellus.DiskFull(err) {
		return ocellus.DiskFullMessage + " Request id " + requestID + "."
	}
	return "An internal error occurred. Request id " + requestID + "."
}
