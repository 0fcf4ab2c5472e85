package control

import (
	"context"
	"errors"
	"net/http"
	"net/url"

	"github.com/zkfc-project/zkfc/zkfc/controller"
)

// POST /failsafe?from=NODE: an active that lost the quorum asks whether
// this node is active and whether it reaches the quorum. An answer
// without either carries a promise (promise_ms) this node keeps: no
// promotion for that long. Authenticated like every endpoint, and
// refused outright on an API that accepts anyone: an answer keeps a
// service active without the quorum.

// failsafeAnswerer is the part of the backend that answers; a witness has
// none and answers 404.
type failsafeAnswerer interface {
	AnswerFailsafe(from string) (controller.FailsafeAnswer, error)
}

func (s *Server) failsafe(w http.ResponseWriter, r *http.Request) {
	if s.sec.open() {
		writeErr(w, http.StatusForbidden, errors.New("failsafe answers need an authenticated control API: set control.token_file or control.tls.client_ca_file"))
		return
	}
	fa, ok := s.b.(failsafeAnswerer)
	if !ok {
		writeErr(w, http.StatusNotFound, errors.New("this zkfc guards no service: it takes no part in failsafe mode"))
		return
	}
	from := r.URL.Query().Get("from")
	if from == "" {
		writeErr(w, http.StatusBadRequest, errors.New("from=NODE is required"))
		return
	}
	a, err := fa.AnswerFailsafe(from)
	if err != nil {
		writeErr(w, http.StatusConflict, err)
		return
	}
	writeJSON(w, http.StatusOK, a)
}

// AskFailsafe sends POST /failsafe to peer on behalf of from
// (controller.FailsafeAsker).
func (c *Client) AskFailsafe(ctx context.Context, peer controller.FailsafePeer, from string) (controller.FailsafeAnswer, error) {
	var a controller.FailsafeAnswer
	err := c.do(ctx, http.MethodPost, peer.URL, "/failsafe", url.Values{"from": {from}}, &a)
	return a, err
}
