package console

import (
	"mime"
	"net/http"
	"slices"
	"strconv"

	"go.temporal.io/sdk/converter"

	"github.com/nurture-dev/nurture/codec"
)

// codecLimit bounds a codec request: Temporal's UI asks for the payloads of
// one history event at a time, and Temporal refuses payloads over 2 MB.
const codecLimit = 2 * codec.MaxPayload

// codecServer is Temporal's codec server protocol (POST .../decode and
// .../encode, {"payloads": [...]}) for Temporal's UI, so that operators
// with an admin account see the payloads of leads' histories decoded: the
// UI (TEMPORAL_CODEC_ENDPOINT=<console>/console/codec,
// TEMPORAL_CODEC_INCLUDE_CREDENTIALS=true) calls it from the browser with
// the console's session cookie, which the browser sends when the UI and
// the console are on the same site (localhost:8080 and localhost:8088, or
// temporal.example.com and nurture.example.com).
//
// The requests come from another origin, so they are answered only to the
// origins CONSOLE_CODEC_ORIGINS names (CORS, with credentials); a request
// must be JSON, which no cross-site form can send without the browser
// asking first. Nothing here changes state, and an erased lead's payloads
// stay closed from the moment of the erase: the codec reads each data key
// afresh, and answers that an erased lead's is destroyed.
func (c *Console) codecServer() http.HandlerFunc {
	h := converter.NewPayloadCodecHTTPHandler(c.opt.Codec.Uncached())
	return func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && slices.Contains(c.opt.CodecOrigins, origin)
		w.Header().Add("Vary", "Origin")
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
		}
		if r.Method == http.MethodOptions {
			if allowed {
				w.Header().Set("Access-Control-Allow-Methods", "POST")
				w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace")
				w.Header().Set("Access-Control-Max-Age", strconv.Itoa(600))
			}
			w.WriteHeader(http.StatusNoContent)
			return
		}
		switch mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); {
		case r.Method != http.MethodPost:
			http.Error(w, "use POST", http.StatusMethodNotAllowed)
			return
		case origin != "" && !allowed:
			http.Error(w, "origin "+origin+" is not in CONSOLE_CODEC_ORIGINS", http.StatusForbidden)
			return
		case mt != "application/json":
			http.Error(w, "send JSON (Content-Type: application/json)", http.StatusUnsupportedMediaType)
			return
		}
		ss, ok := c.session(w, r)
		if !ok {
			http.Error(w, "sign in to the console first (an admin account)", http.StatusForbidden)
			return
		}
		if !ss.account.Role.may(readHistories) {
			http.Error(w, "your role ("+string(ss.account.Role)+") may not "+readHistories.String(), http.StatusForbidden)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, codecLimit)
		h.ServeHTTP(w, r)
	}
}
