"""Keyword spotting: the vocabulary's words found in long recordings and live streams.

- :mod:`asr.spotting.frontend`: the front end and G_W run block by block over a stream.
- :mod:`asr.spotting.engine`: subsequence DTW of every template over the stream, suppression
  across words and time, hits (:class:`~asr.spotting.engine.Spotter`).
- :mod:`asr.spotting.calibrate`: per-word thresholds for a false-alarm rate.
- :mod:`asr.spotting.listen`: stdin and microphone input.
- :mod:`asr.spotting.streams`, :mod:`asr.spotting.scoring`: synthetic test streams with
  reference times; detection rate, false alarms per hour, DET curves.
- :mod:`asr.spotting.output`, :mod:`asr.spotting.plot`: hits as text, the spotting picture.
"""
