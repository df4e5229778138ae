package server

import (
	"errors"
	"path/filepath"

	"github.com/ocellus/ocellus/internal/api/s3"
	"github.com/ocellus/ocellus/internal/keyring"
	"github.com/ocellus/ocellus/internal/sigv4"
)

// openS3 starts the embedded S3 endpoint under <data-dir>/s3.
func (s *Server) openS3(v *sigv4.Verifier, kr *keyring.Keyring) error {
	if s.cfg.S3Endpoint != "" {
		return errors.New("--s3-endpoint: an external S3 is used by the dataset and training work; this build serves the embedded S3 endpoint (leave --s3-endpoint empty)")
	}
	srv, err := s3.New(s3.Config{Dir: filepath.Join(s.cfg.DataDir, "s3"), Region: s.cfg.Region, Verifier: v, Logger: s.log, Now: s.cfg.Now, Space: s.space, Keyring: kr})
	if err != nil {
		return err
	}
	s.s3 = srv
	s.s3Ready = srv.Ping
	s.close = append(s.close, srv.Close)
	return nil
}
