from segclf.cli import main

main()
