from mjpod.cli import main

main()
