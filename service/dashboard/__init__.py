"""Dashboard pages served by the API's own app: server-rendered SVG plots, no CDN, works offline."""
