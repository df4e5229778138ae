package control

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
	"github.com/ocellus/ocellus/internal/store"
	"github.com/ocellus/ocellus/internal/vision"
)

// Forwarding: a node asked to run a model it does not host (or whose local
// units are all busy) sends the request to a node holding a live unit,
// over the cluster's internal endpoint. The request carries the account
// this node already authenticated and the image bytes it already read (an
// S3Object was read here, as that account), so the receiving node trusts
// nothing a client sent it: it checks the HMAC of the shared cluster
// secret, then ownership and status as for any request, and runs only its
// own units (it never forwards again).

// ClusterPath is the internal endpoint forwarded requests are sent to.
const ClusterPath = "/_ocellus/cluster/detect"

// clusterAuthHeader carries "unix-millis:hex(HMAC-SHA256(secret, unix-millis \n body))".
const clusterAuthHeader = "X-Ocellus-Cluster-Auth"

// clusterClockSkew is how far a forwarded request's time may be from the
// receiver's clock.
const clusterClockSkew = time.Minute

const (
	opDetectCustomLabels = "DetectCustomLabels"
	opDetectAnomalies    = "DetectAnomalies"
)

type forwardRequest struct {
	Op            string
	Account       string
	ARN           string
	Image         []byte
	ContentType   string   `json:",omitempty"`
	MinConfidence *float64 `json:",omitempty"`
	MaxResults    *int     `json:",omitempty"`
}

type forwardResponse struct {
	Labels    []vision.Label `json:",omitempty"`
	Detection *Detection     `json:",omitempty"`
	Error     *forwardError  `json:",omitempty"`
}

// forwardError is an error of the receiving node. Kind is the number of
// an ocellus.Kind: every node runs the same Ocellus.
type forwardError struct {
	Kind                     ocellus.Kind
	Message                  string
	ResourceType, ResourceID string `json:",omitempty"`
}

// forwardable: the local pool could not run the request, another node may.
func forwardable(err error) bool {
	k := ocellus.KindOf(err)
	return err != nil && (k == ocellus.NotReady || k == ocellus.CapacityExceeded)
}

func (k *cluster) detectCustomLabels(ctx context.Context, account string, in DetectInput, data []byte, localErr error) ([]vision.Label, error) {
	req := forwardRequest{Op: opDetectCustomLabels, Account: account, ARN: in.VersionARN, Image: data, MinConfidence: in.MinConfidence, MaxResults: in.MaxResults}
	resp, err := k.forward(ctx, req, localErr, func() (forwardResponse, error) {
		img, err := decodeRequestImage(data)
		if err != nil {
			return forwardResponse{}, err
		}
		labels, err := k.c.predictLocal(ctx, in.VersionARN, img, in)
		return forwardResponse{Labels: labels}, err
	})
	return resp.Labels, err
}

func (k *cluster) detectAnomalies(ctx context.Context, account string, m *ocellus.Model, contentType string, body []byte, localErr error) (*Detection, error) {
	l := k.c.lookout.Load()
	req := forwardRequest{Op: opDetectAnomalies, Account: account, ARN: m.ARN, Image: body, ContentType: contentType}
	resp, err := k.forward(ctx, req, localErr, func() (forwardResponse, error) {
		img, err := decodeRequestImage(body)
		if err != nil {
			return forwardResponse{}, err
		}
		d, err := l.detectLocal(ctx, m, img)
		return forwardResponse{Detection: d}, err
	})
	return resp.Detection, err
}

// forward sends req to the nodes holding live units of its model, in
// round-robin order, until one answers with something other than "not
// here" or "busy". With no such node, this node takes a free unit (the
// heartbeat claims it) and waits, within the lease time, for its own pool
// to load the model. A node that cannot be reached is skipped for a lease
// time: its leases expire and the survivors take its units meanwhile.
func (k *cluster) forward(ctx context.Context, req forwardRequest, localErr error, local func() (forwardResponse, error)) (forwardResponse, error) {
	now := k.c.now()
	hs := k.holders(req.ARN, now)
	if len(hs) == 0 {
		if err := k.refresh(ctx); err != nil {
			return forwardResponse{}, err
		}
		hs = k.holders(req.ARN, now)
	}
	lastErr := localErr
	if len(hs) > 0 {
		start := int(k.rr.Add(1))
		tried := map[string]bool{}
		for i := range hs {
			n := hs[(start+i)%len(hs)]
			if tried[n.ID] {
				continue
			}
			tried[n.ID] = true
			resp, err := k.send(ctx, n, req)
			if err != nil {
				if ctx.Err() != nil {
					return forwardResponse{}, ctx.Err()
				}
				k.c.log.Warn("cluster: forward failed", "node", n.ID, "model", req.ARN, "err", err)
				k.markDown(n.ID)
				continue
			}
			if resp.Error != nil {
				err := resp.Error.err()
				if forwardable(err) {
					lastErr = err
					continue
				}
				return forwardResponse{}, err
			}
			return resp, nil
		}
	}
	if ocellus.KindOf(lastErr) == ocellus.NotReady {
		// Nobody else answered: take a unit here (free, or expired with its
		// node) and wait for this node to load the model.
		deadline := time.Now().Add(k.cfg.LeaseTTL)
		k.poke()
		for time.Now().Before(deadline) {
			resp, err := local()
			if !forwardable(err) {
				return resp, err
			}
			lastErr = err
			select {
			case <-ctx.Done():
				return forwardResponse{}, ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
		}
		return forwardResponse{}, ocellus.Errorf(ocellus.NotReady, "The model %s is not loaded on any node yet; try again shortly.", req.ARN)
	}
	if ocellus.KindOf(lastErr) == ocellus.CapacityExceeded {
		units, nodes := k.units(req.ARN, now)
		return forwardResponse{}, ocellus.Errorf(ocellus.CapacityExceeded,
			"The request rate exceeds the %d inference unit(s) of model %s on %d node(s).", units, req.ARN, nodes)
	}
	return forwardResponse{}, lastErr
}

// send posts req to node n's internal endpoint. An error is a transport
// failure (or an answer that is not one of ours); the model's own errors
// come back in the response.
func (k *cluster) send(ctx context.Context, n store.Node, req forwardRequest) (forwardResponse, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return forwardResponse{}, err
	}
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimRight(n.URL, "/")+ClusterPath, bytes.NewReader(body))
	if err != nil {
		return forwardResponse{}, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set(clusterAuthHeader, signCluster(k.cfg.Secret, k.c.now(), body))
	res, err := k.cfg.Client.Do(hr)
	if err != nil {
		return forwardResponse{}, err
	}
	defer res.Body.Close()
	var resp forwardResponse
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return forwardResponse{}, fmt.Errorf("%s answered %s: %s", n.URL, res.Status, bytes.TrimSpace(b))
	}
	if err := json.NewDecoder(res.Body).Decode(&resp); err != nil {
		return forwardResponse{}, fmt.Errorf("%s: %w", n.URL, err)
	}
	return resp, nil
}

func signCluster(secret string, at time.Time, body []byte) string {
	ms := strconv.FormatInt(at.UnixMilli(), 10)
	return ms + ":" + macCluster(secret, ms, body)
}

func macCluster(secret, ms string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(ms))
	m.Write([]byte("\n"))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// checkCluster verifies a forwarded request's authentication header.
func checkCluster(secret, header string, now time.Time, body []byte) error {
	ms, mac, ok := strings.Cut(header, ":")
	if !ok {
		return fmt.Errorf("missing or malformed %s header", clusterAuthHeader)
	}
	t, err := strconv.ParseInt(ms, 10, 64)
	if err != nil {
		return fmt.Errorf("malformed %s header", clusterAuthHeader)
	}
	if d := now.Sub(time.UnixMilli(t)); d > clusterClockSkew || d < -clusterClockSkew {
		return fmt.Errorf("the request's time is %s from this node's clock", d.Round(time.Second))
	}
	if !hmac.Equal([]byte(mac), []byte(macCluster(secret, ms, body))) {
		return fmt.Errorf("the %s signature does not match this node's cluster secret", clusterAuthHeader)
	}
	return nil
}

// maxForwardBytes bounds a forwarded request: the largest image (a 15 MB
// S3 object) in base64, plus the envelope.
const maxForwardBytes = 21 << 20

// ServeCluster answers the internal endpoint (ClusterPath). It refuses
// every request on a node without a cluster secret, and any request whose
// HMAC does not match.
func (c *Control) ServeCluster(w http.ResponseWriter, r *http.Request) {
	k := c.cluster.Load()
	if k == nil {
		http.Error(w, "This node is not part of a cluster (no shared database and --cluster-secret).", http.StatusForbidden)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != ClusterPath {
		http.Error(w, "Not found.", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxForwardBytes+1))
	if err != nil {
		http.Error(w, "Reading the request: "+err.Error(), http.StatusBadRequest)
		return
	}
	if len(body) > maxForwardBytes {
		http.Error(w, "The forwarded request is too large.", http.StatusRequestEntityTooLarge)
		return
	}
	if err := checkCluster(k.cfg.Secret, r.Header.Get(clusterAuthHeader), c.now(), body); err != nil {
		http.Error(w, "Forbidden: "+err.Error(), http.StatusForbidden)
		return
	}
	var req forwardRequest
	if err := json.Unmarshal(body, &req); err != nil {
		http.Error(w, "Malformed forwarded request: "+err.Error(), http.StatusBadRequest)
		return
	}
	resp, err := c.serveForwarded(r.Context(), req)
	if err != nil {
		var e *ocellus.Error
		if !errors.As(err, &e) {
			c.log.Error("forwarded request", "op", req.Op, "model", req.ARN, "err", err)
			e = &ocellus.Error{Kind: ocellus.Internal, Message: "An internal error occurred on node " + k.cfg.Node + "."}
		}
		resp = forwardResponse{Error: &forwardError{Kind: e.Kind, Message: e.Message, ResourceType: e.ResourceType, ResourceID: e.ResourceID}}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

// serveForwarded runs a forwarded request on this node's own units, with
// the checks of the public operation (ownership, status, image).
func (c *Control) serveForwarded(ctx context.Context, req forwardRequest) (forwardResponse, error) {
	switch req.Op {
	case opDetectCustomLabels:
		v, err := c.version(ctx, req.Account, req.ARN)
		if err != nil {
			return forwardResponse{}, err
		}
		if v.Status != ocellus.VersionRunning {
			return forwardResponse{}, ocellus.Errorf(ocellus.NotReady, "The model version %s is %s.", req.ARN, v.Status)
		}
		img, err := decodeRequestImage(req.Image)
		if err != nil {
			return forwardResponse{}, err
		}
		labels, err := c.predictLocal(ctx, v.ARN, img, DetectInput{MinConfidence: req.MinConfidence, MaxResults: req.MaxResults})
		return forwardResponse{Labels: labels}, err
	case opDetectAnomalies:
		l := c.lookout.Load()
		if l == nil {
			return forwardResponse{}, ocellus.Errorf(ocellus.NotReady, "Lookout for Vision is not served by this node.")
		}
		m, err := l.modelByARN(ctx, req.ARN)
		if err != nil {
			return forwardResponse{}, err
		}
		if m.Account != req.Account {
			return forwardResponse{}, lookoutErr(ocellus.NotFound, ResourceModel, req.ARN, "The model %s does not exist.", req.ARN)
		}
		if m.Status != ocellus.ModelHosted {
			return forwardResponse{}, ocellus.Errorf(ocellus.NotReady, "The model %s is %s.", req.ARN, m.Status)
		}
		img, err := decodeRequestImage(req.Image)
		if err != nil {
			return forwardResponse{}, err
		}
		d, err := l.detectLocal(ctx, m, img)
		return forwardResponse{Detection: d}, err
	}
	return forwardResponse{}, ocellus.Errorf(ocellus.Invalid, "Unknown forwarded operation %q.", req.Op)
}

func (e *forwardError) err() error {
	return &ocellus.Error{Kind: e.Kind, Message: e.Message, ResourceType: e.ResourceType, ResourceID: e.ResourceID}
}
