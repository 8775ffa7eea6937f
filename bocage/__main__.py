from bocage.cli import main

main()
