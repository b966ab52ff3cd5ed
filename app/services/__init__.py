"""Use-cases, one module per domain. Each public function owns its transaction."""
