package api

import (
	"context"
	"net/http"

	"github.com/overture-cjo/overture/internal/catalog"
)

// putDefinition makes the handler of PUT BASE/{KEY} for one kind of
// stored definition (trait, audience, offer, interaction policy, message
// template): the body is one definition file, applied by apply on the
// catalog get returns (EUNAVAILABLE if the server has none); 201 with
// Location for a new version, 200 if unchanged. The answer is
// {KEY, version, created}.
func putDefinition[C any](get func() (C, error), base, key string,
	apply func(C, context.Context, string, string, []byte) (catalog.Applied, error)) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := get()
		if err != nil {
			return err
		}
		id := r.PathValue(key)
		file, body, err := readDefinition(r, id)
		if err != nil {
			return err
		}
		a, err := apply(c, r.Context(), id, file, body)
		if err != nil {
			return err
		}
		writeApplied(w, base+"/"+a.ID, map[string]any{key: a.ID, "version": a.Version, "created": a.Created}, a.Created)
		return nil
	}
}

// deleteDefinition makes the handler of DELETE BASE/{KEY}: 204, or
// ENOTFOUND from del.
func deleteDefinition[C any](get func() (C, error), key string, del func(C, context.Context, string) error) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := get()
		if err != nil {
			return err
		}
		if err := del(c, r.Context(), r.PathValue(key)); err != nil {
			return err
		}
		w.WriteHeader(http.StatusNoContent)
		return nil
	}
}
