package sqlite

// Migration returns a migration as this engine applies it, for the
// upgrade test.
func Migration(name string) (string, error) { return dialect.Migration(name) }
