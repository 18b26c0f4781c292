"""Media gateway tests (real RTSP peer: gst-rtsp-server)."""
