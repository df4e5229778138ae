package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
)

// CreateDataset inserts a dataset.
func (s *Store) CreateDataset(ctx context.Context, d *ocellus.Dataset) error {
	src, _ := json.Marshal(d.Source)
	_, err := s.db.ExecContext(ctx, `INSERT INTO datasets (`+store.DatasetColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		d.ARN, d.ProjectARN, d.Account, string(d.Type), string(d.Status), d.StatusMessage, d.StatusMessageCode, string(src),
		d.Stats.LabeledEntries, d.Stats.TotalEntries, d.Stats.TotalLabels, d.Stats.ErrorEntries, d.Created.UnixMilli(), d.Updated.UnixMilli())
	if isUnique(err) {
		return ocellus.Errorf(ocellus.AlreadyExists, "The project already has a %s dataset.", d.Type)
	}
	return ocellus.Wrap(err, "insert dataset")
}

// Dataset returns a dataset by ARN.
func (s *Store) Dataset(ctx context.Context, arn string) (*ocellus.Dataset, error) {
	d, err := store.ScanDataset(s.db.QueryRowContext(ctx, `SELECT `+store.DatasetColumns+` FROM datasets WHERE arn = ?`, arn))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The dataset %s does not exist.", arn)
	}
	return d, ocellus.Wrap(err, "read dataset")
}

func (s *Store) queryDatasets(ctx context.Context, where string, args ...any) ([]*ocellus.Dataset, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+store.DatasetColumns+` FROM datasets WHERE `+where+` ORDER BY created_ms, arn`, args...)
	if err != nil {
		return nil, ocellus.Wrap(err, "list datasets")
	}
	defer rows.Close()
	var out []*ocellus.Dataset
	for rows.Next() {
		d, err := store.ScanDataset(rows)
		if err != nil {
			return nil, ocellus.Wrap(err, "scan dataset")
		}
		out = append(out, d)
	}
	return out, ocellus.Wrap(rows.Err(), "list datasets")
}

// Datasets lists a project's datasets.
func (s *Store) Datasets(ctx context.Context, projectARN string) ([]*ocellus.Dataset, error) {
	return s.queryDatasets(ctx, `project_arn = ?`, projectARN)
}

// DatasetsOf returns the datasets of several projects, by project ARN.
func (s *Store) DatasetsOf(ctx context.Context, projectARNs []string) (map[string][]*ocellus.Dataset, error) {
	out := map[string][]*ocellus.Dataset{}
	if len(projectARNs) == 0 {
		return out, nil
	}
	args := make([]any, len(projectARNs))
	for i, a := range projectARNs {
		args[i] = a
	}
	ds, err := s.queryDatasets(ctx, `project_arn IN (`+placeholders(len(projectARNs))+`)`, args...)
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
	return s.queryDatasets(ctx, `status IN (?, ?, ?)`, string(ocellus.DatasetCreateInProgress), string(ocellus.DatasetUpdateInProgress), string(ocellus.DatasetDeleteInProgress))
}

// UpdateDataset saves a dataset's mutable fields.
func (s *Store) UpdateDataset(ctx context.Context, d *ocellus.Dataset) error {
	return updateDataset(ctx, s.db, d)
}

func updateDataset(ctx context.Context, db interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}, d *ocellus.Dataset) error {
	src, _ := json.Marshal(d.Source)
	res, err := db.ExecContext(ctx, `UPDATE datasets SET status = ?, status_message = ?, status_message_code = ?, source = ?,
		labeled_entries = ?, total_entries = ?, total_labels = ?, error_entries = ?, updated_ms = ? WHERE arn = ?`,
		string(d.Status), d.StatusMessage, d.StatusMessageCode, string(src),
		d.Stats.LabeledEntries, d.Stats.TotalEntries, d.Stats.TotalLabels, d.Stats.ErrorEntries, d.Updated.UnixMilli(), d.ARN)
	if err != nil {
		return ocellus.Wrap(err, "update dataset")
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ocellus.Errorf(ocellus.NotFound, "The dataset %s does not exist.", d.ARN)
	}
	return nil
}

// BeginDatasetUpdate saves d and its update's lines in one transaction.
func (s *Store) BeginDatasetUpdate(ctx context.Context, d *ocellus.Dataset, lines []byte) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		if err := updateDataset(ctx, tx, d); err != nil {
			return err
		}
		if lines == nil {
			lines = []byte{} // NOT NULL
		}
		if _, err := tx.ExecContext(ctx, `INSERT INTO dataset_updates (dataset_arn, lines) VALUES (?, ?)
			ON CONFLICT (dataset_arn) DO UPDATE SET lines = excluded.lines`, d.ARN, lines); err != nil {
			return ocellus.Wrap(err, "store dataset update")
		}
		return nil
	})
}

// DatasetUpdateLines returns a dataset's stored update lines.
func (s *Store) DatasetUpdateLines(ctx context.Context, datasetARN string) ([]byte, error) {
	var lines []byte
	err := s.db.QueryRowContext(ctx, `SELECT lines FROM dataset_updates WHERE dataset_arn = ?`, datasetARN).Scan(&lines)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ocellus.Errorf(ocellus.NotFound, "The dataset %s has no update in progress.", datasetARN)
	}
	if err != nil {
		return nil, ocellus.Wrap(err, "read dataset update")
	}
	return lines, nil
}

// EndDatasetUpdate removes a dataset's stored update lines.
func (s *Store) EndDatasetUpdate(ctx context.Context, datasetARN string) error {
	if _, err := s.db.ExecContext(ctx, `DELETE FROM dataset_updates WHERE dataset_arn = ?`, datasetARN); err != nil {
		return ocellus.Wrap(err, "end dataset update")
	}
	return nil
}

// DeleteDataset removes a dataset and its entries.
func (s *Store) DeleteDataset(ctx context.Context, arn string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM datasets WHERE arn = ?`, arn)
		if err != nil {
			return ocellus.Wrap(err, "delete dataset")
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ocellus.Errorf(ocellus.NotFound, "The dataset %s does not exist.", arn)
		}
		return deleteDatasetRows(ctx, tx, arn)
	})
}

func deleteDatasetRows(ctx context.Context, tx *sql.Tx, arn string) error {
	for _, q := range []string{`DELETE FROM dataset_entries WHERE dataset_arn = ?`, `DELETE FROM dataset_entry_labels WHERE dataset_arn = ?`,
		`DELETE FROM tags WHERE arn = ?`, `DELETE FROM dataset_updates WHERE dataset_arn = ?`} {
		if _, err := tx.ExecContext(ctx, q, arn); err != nil {
			return ocellus.Wrap(err, "delete dataset rows")
		}
	}
	return nil
}

// PutEntries upserts entries by source-ref.
func (s *Store) PutEntries(ctx context.Context, datasetARN string, entries []*ocellus.DatasetEntry) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		up, err := tx.PrepareContext(ctx, `INSERT INTO dataset_entries (dataset_arn, source_ref, line, labeled, has_errors) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (dataset_arn, source_ref) DO UPDATE SET line = excluded.line, labeled = excluded.labeled, has_errors = excluded.has_errors`)
		if err != nil {
			return ocellus.Wrap(err, "prepare entry upsert")
		}
		defer up.Close()
		del, err := tx.PrepareContext(ctx, `DELETE FROM dataset_entry_labels WHERE dataset_arn = ? AND source_ref = ?`)
		if err != nil {
			return ocellus.Wrap(err, "prepare label delete")
		}
		defer del.Close()
		ins, err := tx.PrepareContext(ctx, `INSERT INTO dataset_entry_labels (dataset_arn, source_ref, label, boxes) VALUES (?, ?, ?, ?)
			ON CONFLICT (dataset_arn, source_ref, label) DO UPDATE SET boxes = dataset_entry_labels.boxes + excluded.boxes`)
		if err != nil {
			return ocellus.Wrap(err, "prepare label insert")
		}
		defer ins.Close()
		for _, e := range entries {
			if _, err := up.ExecContext(ctx, datasetARN, e.SourceRef, e.Line, e.Labeled, e.HasErrors); err != nil {
				return ocellus.Wrap(err, "upsert entry")
			}
			if _, err := del.ExecContext(ctx, datasetARN, e.SourceRef); err != nil {
				return ocellus.Wrap(err, "clear entry labels")
			}
			for _, l := range e.Labels {
				if _, err := ins.ExecContext(ctx, datasetARN, e.SourceRef, l.Name, l.Boxes); err != nil {
					return ocellus.Wrap(err, "insert entry label")
				}
			}
		}
		return nil
	})
}

// ClearEntries removes a dataset's entries.
func (s *Store) ClearEntries(ctx context.Context, datasetARN string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, q := range []string{`DELETE FROM dataset_entries WHERE dataset_arn = ?`, `DELETE FROM dataset_entry_labels WHERE dataset_arn = ?`} {
			if _, err := tx.ExecContext(ctx, q, datasetARN); err != nil {
				return ocellus.Wrap(err, "clear entries")
			}
		}
		return nil
	})
}

// ListEntries pages entries in insertion order; the cursor is the last id.
func (s *Store) ListEntries(ctx context.Context, f store.EntryFilter) ([]*ocellus.DatasetEntry, string, error) {
	q := `SELECT e.id, e.source_ref, e.line, e.labeled, e.has_errors FROM dataset_entries e WHERE e.dataset_arn = ?`
	args := []any{f.DatasetARN}
	if f.After != "" {
		id, err := strconv.ParseInt(f.After, 10, 64)
		if err != nil {
			return nil, "", ocellus.Errorf(ocellus.InvalidPaginationToken, "The pagination token is invalid.")
		}
		q += ` AND e.id > ?`
		args = append(args, id)
	}
	if f.Labeled != nil {
		q += ` AND e.labeled = ?`
		args = append(args, *f.Labeled)
	}
	if f.HasErrors != nil {
		q += ` AND e.has_errors = ?`
		args = append(args, *f.HasErrors)
	}
	if f.SourceRefContains != "" {
		q += ` AND instr(e.source_ref, ?) > 0`
		args = append(args, f.SourceRefContains)
	}
	if len(f.ContainsLabels) > 0 {
		q += ` AND EXISTS (SELECT 1 FROM dataset_entry_labels l WHERE l.dataset_arn = e.dataset_arn AND l.source_ref = e.source_ref AND l.label IN (` + placeholders(len(f.ContainsLabels)) + `))`
		for _, l := range f.ContainsLabels {
			args = append(args, l)
		}
	}
	q += ` ORDER BY e.id`
	if f.Limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, f.Limit+1)
	}
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, "", ocellus.Wrap(err, "list entries")
	}
	defer rows.Close()
	var out []*ocellus.DatasetEntry
	var ids []int64
	for rows.Next() {
		var e ocellus.DatasetEntry
		var id int64
		if err := rows.Scan(&id, &e.SourceRef, &e.Line, &e.Labeled, &e.HasErrors); err != nil {
			return nil, "", ocellus.Wrap(err, "scan entry")
		}
		out = append(out, &e)
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		return nil, "", ocellus.Wrap(err, "list entries")
	}
	next := ""
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
		next = strconv.FormatInt(ids[f.Limit-1], 10)
	}
	return out, next, nil
}

// MoveEntries moves entries (with their labels) to another dataset.
func (s *Store) MoveEntries(ctx context.Context, fromARN, toARN string, sourceRefs []string) error {
	return s.tx(ctx, func(tx *sql.Tx) error {
		for _, ref := range sourceRefs {
			if _, err := tx.ExecContext(ctx, `UPDATE dataset_entries SET dataset_arn = ? WHERE dataset_arn = ? AND source_ref = ?`, toARN, fromARN, ref); err != nil {
				return ocellus.Wrap(err, "move entry")
			}
			if _, err := tx.ExecContext(ctx, `UPDATE dataset_entry_labels SET dataset_arn = ? WHERE dataset_arn = ? AND source_ref = ?`, toARN, fromARN, ref); err != nil {
				return ocellus.Wrap(err, "move entry labels")
			}
		}
		return nil
	})
}

// EntryStats counts a dataset's entries.
func (s *Store) EntryStats(ctx context.Context, datasetARN string) (ocellus.DatasetStats, error) {
	var st ocellus.DatasetStats
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*), COALESCE(SUM(labeled), 0), COALESCE(SUM(has_errors), 0) FROM dataset_entries WHERE dataset_arn = ?`, datasetARN).
		Scan(&st.TotalEntries, &st.LabeledEntries, &st.ErrorEntries)
	if err != nil {
		return st, ocellus.Wrap(err, "entry stats")
	}
	err = s.db.QueryRowContext(ctx, `SELECT COUNT(DISTINCT label) FROM dataset_entry_labels WHERE dataset_arn = ?`, datasetARN).Scan(&st.TotalLabels)
	return st, ocellus.Wrap(err, "label count")
}

// LabelStats pages per-label counts.
func (s *Store) LabelStats(ctx context.Context, datasetARN, after string, limit int) ([]ocellus.LabelStats, error) {
	q := `SELECT label, COUNT(*), SUM(CASE WHEN boxes > 0 THEN 1 ELSE 0 END) FROM dataset_entry_labels WHERE dataset_arn = ? AND label > ? GROUP BY label ORDER BY label`
	if limit > 0 {
		q += fmt.Sprintf(` LIMIT %d`, limit)
	}
	rows, err := s.db.QueryContext(ctx, q, datasetARN, after)
	if err != nil {
		return nil, ocellus.Wrap(err, "label stats")
	}
	defer rows.Close()
	var out []ocellus.LabelStats
	for rows.Next() {
		var l ocellus.LabelStats
		if err := rows.Scan(&l.Name, &l.EntryCount, &l.BoundingBoxCount); err != nil {
			return nil, ocellus.Wrap(err, "scan label stats")
		}
		out = append(out, l)
	}
	return out, ocellus.Wrap(rows.Err(), "label stats")
}
