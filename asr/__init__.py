"""asr: isolated-word recognition with trainable elastic templates.

A fixed front end (log-mel / MFCC) feeds a trainable TDNN; each word owns K trainable
templates; the energy of a word is the DTW distance between the TDNN output and the word's
templates (hard min, or soft-min over templates and warping paths). TDNN and templates are
trained together by back-propagating a loss on energies through the DTW (LeCun et al., 2006).
"""

__version__ = "0.1.0"
