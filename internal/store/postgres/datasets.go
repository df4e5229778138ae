package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// CreateDataset inserts a dataset.
func (s *Store) CreateDataset(ctx context.Context, d *ocellus.Dataset) error {
	src, _ := json.Marshal(d.Source)
	_, err := s.q(ctx).Exec(ctx, `INSERT INTO datasets (`+store.DatasetColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		d.ARN, d.ProjectARN, d.Account, string(d.Type), string(d.Status), d.StatusMessage, d.StatusMessageCode, string(src),
		d.Stats.LabeledEntries, d.Stats.TotalEntries, d.Stats.TotalLabels, d.Stats.ErrorEntries, d.Created.UnixMilli(), d.Updated.UnixMilli())
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "The project already has a %s dataset.", d.Type)
	}
	return wrap(err, "insert dataset")
}

// Dataset returns a dataset by ARN.
func (s *Store) Dataset(ctx context.Context, arn string) (*ocellus.Dataset, error) {
	d, err := store.ScanDataset(s.q(ctx).QueryRow(ctx, `SELECT `+store.DatasetColumns+` FROM datasets WHERE arn = $1`, arn))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The dataset %s does not exist.", arn)
	}
	return d, wrap(err, "read dataset")
}

func (s *Store) queryDatasets(ctx context.Context, where string, args ...any) ([]*ocellus.Dataset, error) {
	rows, err := s.q(ctx).Query(ctx, `SELECT `+store.DatasetColumns+` FROM datasets WHERE `+where+` ORDER BY created_ms, arn`, args...)
	return collect(rows, err, "datasets", store.ScanDataset)
}

// Datasets lists a project's datasets.
func (s *Store) Datasets(ctx context.Context, projectARN string) ([]*ocellus.Dataset, error) {
	return s.queryDatasets(ctx, `project_arn = $1`, projectARN)
}

// DatasetsOf returns the datasets of several projects, by project ARN.
func (s *Store) DatasetsOf(ctx context.Context, projectARNs []string) (map[string][]*ocellus.Dataset, error) {
	out := map[string][]*ocellus.Dataset{}
	if len(projectARNs) == 0 {
		return out, nil
	}
	ds, err := s.queryDatasets(ctx, `project_arn = ANY($1)`, projectARNs)
	if err != nil {
		return nil, err
	}
	for _, d := range ds {
		out[d.ProjectARN] = append(out[d.ProjectARN], d)
	}
	return out, nil
}

// DatasetsInProgress lists datasets with work in progress.
func (s *Store) DatasetsInProgress(ctx context.Context) ([]*ocellus.Dataset, error) {
	return s.queryDatasets(ctx, `status = ANY($1)`, []string{string(ocellus.DatasetCreateInProgress), string(ocellus.DatasetUpdateInProgress), string(ocellus.DatasetDeleteInProgress)})
}

// UpdateDataset saves a dataset's mutable fields.
func (s *Store) UpdateDataset(ctx context.Context, d *ocellus.Dataset) error {
	return updateDataset(ctx, s.q(ctx), d)
}

func updateDataset(ctx context.Context, db querier, d *ocellus.Dataset) error {
	src, _ := json.Marshal(d.Source)
	tag, err := db.Exec(ctx, `UPDATE datasets SET status = $1, status_message = $2, status_message_code = $3, source = $4,
		labeled_entries = $5, total_entries = $6, total_labels = $7, error_entries = $8, updated_ms = $9 WHERE arn = $10`,
		string(d.Status), d.StatusMessage, d.StatusMessageCode, string(src),
		d.Stats.LabeledEntries, d.Stats.TotalEntries, d.Stats.TotalLabels, d.Stats.ErrorEntries, d.Updated.UnixMilli(), d.ARN)
	if err != nil {
		return wrap(err, "update dataset")
	}
	if tag.RowsAffected() == 0 {
		return ocellus.Errorf(ocellus.NotFound, "The dataset %s does not exist.", d.ARN)
	}
	return nil
}

// BeginDatasetUpdate saves d and its update's lines in one transaction.
func (s *Store) BeginDatasetUpdate(ctx context.Context, d *ocellus.Dataset, lines []byte) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if err := updateDataset(ctx, tx, d); err != nil {
			return err
		}
		if lines == nil {
			lines = []byte{} // NOT NULL
		}
		_, err := tx.Exec(ctx, `INSERT INTO dataset_updates (dataset_arn, lines) VALUES ($1, $2)
			ON CONFLICT (dataset_arn) DO UPDATE SET lines = excluded.lines`, d.ARN, lines)
		return wrap(err, "store dataset update")
	})
}

// DatasetUpdateLines returns a dataset's stored update lines.
func (s *Store) DatasetUpdateLines(ctx context.Context, datasetARN string) ([]byte, error) {
	var lines []byte
	err := s.q(ctx).QueryRow(ctx, `SELECT lines FROM dataset_updates WHERE dataset_arn = $1`, datasetARN).Scan(&lines)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The dataset %s has no update in progress.", datasetARN)
	}
	if err != nil {
		return nil, wrap(err, "read dataset update")
	}
	return lines, nil
}

// EndDatasetUpdate removes a dataset's stored update lines.
func (s *Store) EndDatasetUpdate(ctx context.Context, datasetARN string) error {
	_, err := s.q(ctx).Exec(ctx, `DELETE FROM dataset_updates WHERE dataset_arn = $1`, datasetARN)
	return wrap(err, "end dataset update")
}

// DeleteDataset removes a dataset and its entries.
func (s *Store) DeleteDataset(ctx context.Context, arn string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `DELETE FROM datasets WHERE arn = $1`, arn)
		if err != nil {
			return wrap(err, "delete dataset")
		}
		if tag.RowsAffected() == 0 {
			return ocellus.Errorf(ocellus.NotFound, "The dataset %s does not exist.", arn)
		}
		return deleteDatasetRows(ctx, tx, arn)
	})
}

func deleteDatasetRows(ctx context.Context, tx pgx.Tx, arn string) error {
	for _, q := range []string{`DELETE FROM dataset_entries WHERE dataset_arn = $1`, `DELETE FROM dataset_entry_labels WHERE dataset_arn = $1`,
		`DELETE FROM tags WHERE arn = $1`, `DELETE FROM dataset_updates WHERE dataset_arn = $1`} {
		if _, err := tx.Exec(ctx, q, arn); err != nil {
			return wrap(err, "delete dataset rows")
		}
	}
	return nil
}

// PutEntries upserts entries by source-ref, sending each statement of the
// transaction in one batch (one round trip).
func (s *Store) PutEntries(ctx context.Context, datasetARN string, entries []*ocellus.DatasetEntry) error {
	if len(entries) == 0 {
		return nil
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var b pgx.Batch
		for _, e := range entries {
			b.Queue(`INSERT INTO dataset_entries (dataset_arn, source_ref, line, labeled, has_errors) VALUES ($1, $2, $3, $4, $5)
				ON CONFLICT (dataset_arn, source_ref) DO UPDATE SET line = excluded.line, labeled = excluded.labeled, has_errors = excluded.has_errors`,
				datasetARN, e.SourceRef, e.Line, e.Labeled, e.HasErrors)
			b.Queue(`DELETE FROM dataset_entry_labels WHERE dataset_arn = $1 AND source_ref = $2`, datasetARN, e.SourceRef)
			for _, l := range e.Labels {
				b.Queue(`INSERT INTO dataset_entry_labels (dataset_arn, source_ref, label, boxes) VALUES ($1, $2, $3, $4)
					ON CONFLICT (dataset_arn, source_ref, label) DO UPDATE SET boxes = dataset_entry_labels.boxes + excluded.boxes`,
					datasetARN, e.SourceRef, l.Name, l.Boxes)
			}
		}
		return wrap(tx.SendBatch(ctx, &b).Close(), "put entries")
	})
}

// ClearEntries removes a dataset's entries.
func (s *Store) ClearEntries(ctx context.Context, datasetARN string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		for _, q := range []string{`DELETE FROM dataset_entries WHERE dataset_arn = $1`, `DELETE FROM dataset_entry_labels WHERE dataset_arn = $1`} {
			if _, err := tx.Exec(ctx, q, datasetARN); err != nil {
				return wrap(err, "clear entries")
			}
		}
		return nil
	})
}

// ListEntries pages entries in insertion order; the cursor is the last id.
func (s *Store) ListEntries(ctx context.Context, f store.EntryFilter) ([]*ocellus.DatasetEntry, string, error) {
	q := `SELECT e.id, e.source_ref, e.line, e.labeled, e.has_errors FROM dataset_entries e WHERE e.dataset_arn = $1`
	args := []any{f.DatasetARN}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if f.After != "" {
		id, err := strconv.ParseInt(f.After, 10, 64)
		if err != nil {
			return nil, "", ocellus.Errorf(ocellus.InvalidPaginationToken, "The pagination token is invalid.")
		}
		q += ` AND e.id > ` + arg(id)
	}
	if f.Labeled != nil {
		q += ` AND e.labeled = ` + arg(*f.Labeled)
	}
	if f.HasErrors != nil {
		q += ` AND e.has_errors = ` + arg(*f.HasErrors)
	}
	if f.SourceRefContains != "" {
		q += ` AND strpos(e.source_ref, ` + arg(f.SourceRefContains) + `) > 0`
	}
	if len(f.ContainsLabels) > 0 {
		q += ` AND EXISTS (SELECT 1 FROM dataset_entry_labels l WHERE l.dataset_arn = e.dataset_arn AND l.source_ref = e.source_ref AND l.label = ANY(` + arg(f.ContainsLabels) + `))`
	}
	q += ` ORDER BY e.id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit+1)
	}
	type row struct {
		id int64
		e  *ocellus.DatasetEntry
	}
	rows, err := s.q(ctx).Query(ctx, q, args...)
	rs, err := collect(rows, err, "entries", func(r store.Row) (row, error) {
		var e ocellus.DatasetEntry
		var id int64
		err := r.Scan(&id, &e.SourceRef, &e.Line, &e.Labeled, &e.HasErrors)
		return row{id, &e}, err
	})
	if err != nil {
		return nil, "", err
	}
	next := ""
	if f.Limit > 0 && len(rs) > f.Limit {
		rs = rs[:f.Limit]
		next = strconv.FormatInt(rs[f.Limit-1].id, 10)
	}
	out := make([]*ocellus.DatasetEntry, len(rs))
	for i, r := range rs {
		out[i] = r.e
	}
	return out, next, nil
}

// MoveEntries moves entries (with their labels) to another dataset.
func (s *Store) MoveEntries(ctx context.Context, fromARN, toARN string, sourceRefs []string) error {
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `UPDATE dataset_entries SET dataset_arn = $1 WHERE dataset_arn = $2 AND source_ref = ANY($3)`, toARN, fromARN, sourceRefs); err != nil {
			return wrap(err, "move entries")
		}
		_, err := tx.Exec(ctx, `UPDATE dataset_entry_labels SET dataset_arn = $1 WHERE dataset_arn = $2 AND source_ref = ANY($3)`, toARN, fromARN, sourceRefs)
		return wrap(err, "move entry labels")
	})
}

// EntryStats counts a dataset's entries.
func (s *Store) EntryStats(ctx context.Context, datasetARN string) (ocellus.DatasetStats, error) {
	var st ocellus.DatasetStats
	err := s.q(ctx).QueryRow(ctx, `SELECT COUNT(*), COUNT(*) FILTER (WHERE labeled), COUNT(*) FILTER (WHERE has_errors),
		(SELECT COUNT(DISTINCT label) FROM dataset_entry_labels WHERE dataset_arn = $1)
		FROM dataset_entries WHERE dataset_arn = $1`, datasetARN).
		Scan(&st.TotalEntries, &st.LabeledEntries, &st.ErrorEntries, &st.TotalLabels)
	return st, wrap(err, "entry stats")
}

// LabelStats pages per-label counts.
func (s *Store) LabelStats(ctx context.Context, datasetARN, after string, limit int) ([]ocellus.LabelStats, error) {
	q := `SELECT label, COUNT(*), COUNT(*) FILTER (WHERE boxes > 0) FROM dataset_entry_labels WHERE dataset_arn = $1 AND label > $2 GROUP BY label ORDER BY label`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.q(ctx).Query(ctx, q, datasetARN, after)
	return collect(rows, err, "label stats", func(r store.Row) (l ocellus.LabelStats, err error) {
		err = r.Scan(&l.Name, &l.EntryCount, &l.BoundingBoxCount)
		return l, err
	})
}
