package strictjson

import (
	"bytes"
	"encoding/json"
	"io"
	"unicode/utf8"

	"github.com/hotline-net/hotline"
)

// frame is one open object or array.
type tokFrame struct {
	obj     bool
	wantKey bool // an object expecting a member name (or its end)
	free    bool // inside o.Free
	keys    map[string]bool
	lastKey string
}

// checkTokens is Check as first written, on encoding/json's tokenizer:
// the reference the fuzz target holds the scanner to.
func checkTokens(b []byte, o Options) error {
	if !utf8.Valid(b) {
		return hotline.Errorf(ErrMalformed, "%s: not valid UTF-8", o.What)
	}
	var stack []*tokFrame
	// valueDone records that a value ended: the enclosing object, if any,
	// now expects a member name.
	valueDone := func() {
		if n := len(stack); n > 0 && stack[n-1].obj {
			stack[n-1].wantKey = true
		}
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	values := 0
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return hotline.Errorf(ErrMalformed, "%s: %v", o.What, err)
		}
		if len(stack) == 0 {
			values++
			if values > 1 {
				return hotline.Errorf(ErrMalformed, "%s: data after the JSON object", o.What)
			}
			if d, ok := tok.(json.Delim); !ok || d != '{' {
				return hotline.Errorf(ErrMalformed, "%s: not a JSON object", o.What)
			}
		}
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			top := stack[n-1]
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:n-1]
				valueDone()
				continue
			}
			key, _ := tok.(string)
			if top.keys[key] {
				return hotline.Errorf(ErrDuplicateKey, "%s: member %q appears twice in one object", o.What, truncate(key))
			}
			if !top.free && !hotline.ValidKind(key) {
				return hotline.Errorf(ErrUnknownField, "%s: unknown field %q", o.What, truncate(key))
			}
			top.keys[key] = true
			top.wantKey = false
			top.lastKey = key
			continue
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{', '[':
				if len(stack) >= o.MaxDepth {
					return hotline.Errorf(ErrTooLarge, "%s: nested deeper than %d levels", o.What, o.MaxDepth)
				}
				free := false
				if n := len(stack); n > 0 {
					free = stack[n-1].free || (o.Free != "" && n == 1 && stack[0].lastKey == o.Free)
				}
				stack = append(stack, &tokFrame{obj: t == '{', wantKey: t == '{', free: free, keys: map[string]bool{}})
			default:
				stack = stack[:len(stack)-1]
				valueDone()
			}
		case nil:
			if n := len(stack); n == 0 || !stack[n-1].free {
				return hotline.Errorf(ErrInvalidValue, "%s: null is not allowed; leave the field out", o.What)
			}
			valueDone()
		default:
			valueDone()
		}
	}
	if values == 0 {
		return hotline.Errorf(ErrMalformed, "%s: empty", o.What)
	}
	if len(stack) > 0 {
		// json.Decoder.Token reports a document cut inside an object as a
		// clean end of input.
		return hotline.Errorf(ErrMalformed, "%s: truncated", o.What)
	}
	return nil
}
