#!/usr/bin/env bash
# Seeds the decode fuzzer with tiny valid files of each container TriggerLab meets, so mutations
# start from real structure (made with the ffmpeg CLI; nothing is committed).
set -euo pipefail
cd "$(dirname "$0")"
mkdir -p corpus/decode
ff() { ffmpeg -v error -nostdin -y "$@"; }
v=(-f lavfi -i testsrc=size=48x32:rate=10:duration=0.4)
a=(-f lavfi -i sine=f=440:sample_rate=8000:duration=0.4)
ff "${v[@]}" "${a[@]}" -c:v libx264 -c:a aac -shortest corpus/decode/h264_aac.mp4
ff "${v[@]}" "${a[@]}" -c:v mpeg4 -c:a libmp3lame -shortest corpus/decode/mpeg4_mp3.avi
ff "${v[@]}" -c:v mpeg2video -f mpeg corpus/decode/mpeg2.mpg
ff "${v[@]}" "${a[@]}" -c:v libtheora -c:a libvorbis -shortest corpus/decode/theora.ogv
ff "${v[@]}" -c:v libx264 -movflags +faststart corpus/decode/faststart.mp4
ff "${a[@]}" -c:a pcm_s16le corpus/decode/tone.wav
echo "seeded $(ls corpus/decode | wc -l) files into fuzz/corpus/decode"
