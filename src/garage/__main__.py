from garage.ops.cli import main

main()
