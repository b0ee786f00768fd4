package postgres

// Migration returns a migration as this engine applies it, for the
// upgrade test.
func Migration(name string) (string, error) { return dialect.Migration(name) }

// Full is the dialect's Full, for the classification test.
var Full = full
