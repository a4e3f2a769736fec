# Waits for the server to speak first, which an echo server never does.
import sys
from socket import *
s = socket(AF_INET, SOCK_STREAM)
s.connect((sys.argv[1], int(sys.argv[2])))
greeting = s.recv(1024)
sentence = input('Input lowercase sentence:')
s.send(sentence.encode())
print(s.recv(1024).decode())
s.close()
