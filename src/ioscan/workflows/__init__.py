"""End-to-end jobs built from the stages: tracking a catalogue, the demo, summaries."""
