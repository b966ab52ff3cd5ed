"""Publishing to WordPress: the REST client, the connection doctor and the site's connection."""
