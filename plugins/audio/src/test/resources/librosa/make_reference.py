"""Writes the librosa reference values the audio tests compare against (librosa 0.11.0, numpy 2).

    python make_reference.py   # in this directory, with librosa installed

The signal is the formula of LogMelSpectrogramTest.signal(): computed in float64, stored as float32.
"""
import numpy as np
import librosa

sr, n_fft, hop, n_mels = 16000, 400, 160, 64
n = np.arange(4000)
t = n / sr
y = (0.5 * np.sin(2 * np.pi * 440.0 * t)
     + 0.25 * np.sin(2 * np.pi * 3000.0 * t + 0.3)
     + 0.1 * np.sin(2 * np.pi * (200.0 + 6000.0 * t) * t) * np.exp(-3.0 * t)).astype(np.float32)

mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=n_fft, hop_length=hop, n_mels=n_mels, center=True,
                                     pad_mode="constant", power=2.0)
logmel = np.log(mel + 1e-6)
with open("logmel_16k_400_160_64.txt", "w") as out:
    out.write("# librosa %s: log(melspectrogram(y, sr=16000, n_fft=400, hop_length=160, n_mels=64) + 1e-6)\n"
              % librosa.__version__)
    out.write("# rows: mel band, columns: frame (%d x %d)\n" % logmel.shape)
    for row in logmel:
        out.write(" ".join("%.6f" % v for v in row) + "\n")

weights = librosa.filters.mel(sr=sr, n_fft=n_fft, n_mels=n_mels)
with open("mel_16k_400_64.txt", "w") as out:
    out.write("# librosa %s: filters.mel(sr=16000, n_fft=400, n_mels=64), non-zero weights as: band bin weight\n"
              % librosa.__version__)
    for m, k in zip(*np.nonzero(weights)):
        out.write("%d %d %.9g\n" % (m, k, weights[m, k]))
