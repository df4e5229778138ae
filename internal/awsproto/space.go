package awsproto

import "strings"

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
