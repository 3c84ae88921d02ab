from nmt.memory.report import main

main()
