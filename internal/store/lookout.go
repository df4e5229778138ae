package store

// LookoutStore holds what only Lookout for Vision needs (idempotency
// tokens, models, packaging jobs). Projects, tags, datasets and entries are
// shared with Custom Labels through Store's own methods.
type LookoutStore interface{}
