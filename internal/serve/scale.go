package serve

import (
	"time"

	"github.com/ocellus/ocellus/internal/ocellus"
)

// Scaling thresholds. Utilisation is the larger of slot utilisation (busy
// slot-time over available slot-time) and rate utilisation (admitted
// requests over what the token bucket refills), measured over one
// ScaleInterval. The gap between hotUtil and coldUtil is the hysteresis: a
// version that went from 2 to 3 units at 80% would be back at 80% on 2, far
// above coldUtil, so it does not flap back down; it shrinks only once the
// load would fit in one unit fewer at under 50%.
const (
	hotUtil      = 0.80 // an interval at or above this is hot
	hotRejectPct = 1.0  // or one with at least this % of requests rejected
	coldUtil     = 0.50 // cold: the load would fit in one unit fewer below this
)

func (p *Pool[M]) scaler() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.ScaleInterval)
	defer t.Stop()
	for {
		select {
		case <-t.C:
			p.rescale()
		case <-p.quit:
			return
		}
	}
}

// rescale measures every running version over the interval since the last
// call and adds or removes at most one unit each. The background scaler
// calls it every ScaleInterval; the window is taken from Config.Now so tests
// drive it with a fake clock.
func (p *Pool[M]) rescale() {
	p.mu.Lock()
	defer p.mu.Unlock()
	now := p.cfg.Now()
	for _, h := range p.hosts {
		if h.state != Running {
			continue
		}
		window := now.Sub(h.windowStart)
		if window <= 0 {
			continue
		}
		h.account(now)
		util := h.busy.Seconds() / (window.Seconds() * float64(p.slots(h)))
		if p.cfg.UnitTPS > 0 {
			util = max(util, float64(h.admitted)/(window.Seconds()*p.cfg.UnitTPS*float64(h.units)))
		}
		total := h.admitted + h.rejected
		hot := util >= hotUtil || (total > 0 && float64(h.rejected)*100 >= hotRejectPct*float64(total))
		// Cold means the same load on one unit fewer would still be below
		// coldUtil, and nobody was turned away.
		cold := !hot && h.rejected == 0 && h.units > 1 &&
			util*float64(h.units)/float64(h.units-1) < coldUtil
		switch {
		case hot:
			h.hot, h.cold = h.hot+1, 0
		case cold:
			h.hot, h.cold = 0, h.cold+1
		default:
			h.hot, h.cold = 0, 0
		}
		before := h.units
		full := p.cfg.MaxTotalUnits > 0 && p.totalUnitsLocked() >= p.cfg.MaxTotalUnits
		if h.hot >= p.cfg.ScaleUpAfter && h.units < h.max && !full {
			p.refillLocked(h, now) // bank the old rate up to now before it changes
			h.units++
			h.hot = 0
			p.grantLocked(h, now)
		} else if h.cold >= p.cfg.ScaleDownAfter && h.units > h.min {
			p.refillLocked(h, now)
			h.units--
			h.cold = 0
			h.tokens = min(h.tokens, float64(p.burst(h)))
		}
		if h.units != before {
			p.cfg.Logger.Info("serve: scaled", "id", h.id, "from", before, "to", h.units,
				"utilisation", util, "admitted", h.admitted, "rejected", h.rejected, "window", window)
			p.notifyLocked(h)
		}
		h.windowStart, h.busy, h.admitted, h.rejected = now, 0, 0, 0
	}
}

// Resize sets the units id holds on this node to units and stops
// auto-scaling it (minimum and maximum become units). Several nodes
// sharing a version each host the units whose leases they hold, and the
// control plane resizes the local share as leases come and go. Resizing an
// id not in the pool is ocellus.NotFound; one stopping, ocellus.InUse.
func (p *Pool[M]) Resize(id string, units int) error {
	if units < 1 {
		return ocellus.Errorf(ocellus.Invalid, "A hosted model needs at least 1 inference unit, not %d.", units)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	h := p.hosts[id]
	if h == nil {
		return ocellus.Errorf(ocellus.NotFound, "The model version %s is not running.", id)
	}
	if h.state == Stopping {
		return ocellus.Errorf(ocellus.InUse, "The model version %s is stopping.", id)
	}
	if h.units == units && h.min == units && h.max == units {
		return nil
	}
	now := p.cfg.Now()
	p.refillLocked(h, now) // bank the old rate up to now before it changes
	h.units, h.min, h.max = units, units, units
	h.tokens = min(h.tokens, float64(p.burst(h)))
	h.hot, h.cold = 0, 0
	if h.state == Running {
		p.grantLocked(h, now)
	}
	p.notifyLocked(h)
	return nil
}
