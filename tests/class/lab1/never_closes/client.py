# No prompt; one recv(1024); forgets close().
import sys
from socket import *
s = socket(AF_INET, SOCK_STREAM)
s.connect((sys.argv[1], int(sys.argv[2])))
s.send(input().encode())
print(s.recv(1024).decode())
