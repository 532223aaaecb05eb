"""Jobs: audio sources, the separations shared between requests, and the requests themselves."""
